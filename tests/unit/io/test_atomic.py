"""A full disk never leaves a half file: every writer goes through a temporary sibling and a rename.

The disk filling up is simulated where it happens, inside the library call that writes the
bytes: it writes half of what it was given, then fails with ``ENOSPC``.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from medseg.errors import OutputError


def _half_then_enospc(write):
    """Wrap a writer ``write(obj, path)``: write for real, cut the file in half, then fail like a full disk."""

    def failing(obj, path, *args, **kwargs):
        write(obj, path, *args, **kwargs)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    return failing


# Each maker prepares its inputs in ``tmp_path`` and returns the write to test, ``write(target)``.
def _label(tmp_path: Path):
    from medseg.outputs.nifti import write_label_like

    reference = tmp_path / "ref.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 5, 6), np.float32), np.eye(4)), reference)
    return lambda target: write_label_like(np.ones((4, 5, 6), np.uint8), reference, target)


def _checkpoint(tmp_path: Path):
    from medseg.runtime.checkpoint import save_checkpoint

    return lambda target: save_checkpoint({"w": torch.ones(3)}, target)


def _manifest(tmp_path: Path):
    from medseg.data.manifest import write_manifest

    return lambda target: write_manifest(target, {"training": [{"image": "a.nii.gz"}]})


def _curves(tmp_path: Path):
    from medseg.outputs.report import plot_curves

    (tmp_path / "metrics.csv").write_text("epoch,train_loss,dice_WT\n1,0.9,0.5\n2,0.8,0.6\n")
    return lambda target: plot_curves(tmp_path / "metrics.csv", target)


def _copy(tmp_path: Path):
    from medseg.io.atomic import copy_file_atomic

    (tmp_path / "source.json").write_text(json.dumps({"x": list(range(1000))}))
    return lambda target: copy_file_atomic(tmp_path / "source.json", target)


# writer, its output name, the library call that puts the bytes on disk
WRITERS = {
    "label map": (_label, "case_seg.nii.gz", "nibabel.save"),
    "checkpoint": (_checkpoint, "checkpoint_last.pt", "torch.save"),
    "manifest": (_manifest, "dataset.json", "pathlib.Path.write_text"),
    "report figure": (_curves, "curves.png", "matplotlib.figure.Figure.savefig"),
    "bundle file copy": (_copy, "metadata.json", "shutil.copyfile"),
}


def _patch_target(monkeypatch, dotted: str):
    import importlib

    module_name, _, attribute = dotted.rpartition(".")
    try:
        owner = importlib.import_module(module_name)
    except ModuleNotFoundError:  # a class attribute: module.Class.method
        module_name, _, class_name = module_name.rpartition(".")
        owner = getattr(importlib.import_module(module_name), class_name)
    original = getattr(owner, attribute)
    if dotted == "pathlib.Path.write_text":
        def failing(self, text, *args, **kwargs):
            original(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
    elif dotted == "matplotlib.figure.Figure.savefig":
        def failing(self, path, *args, **kwargs):
            _half_then_enospc(lambda obj, p, *a, **k: original(obj, p, *a, **k))(self, path, *args, **kwargs)
    elif dotted == "shutil.copyfile":
        def failing(source, path, *args, **kwargs):
            return _half_then_enospc(lambda s, p, *a, **k: original(s, p, *a, **k))(source, path, *args, **kwargs)
    else:
        failing = _half_then_enospc(original)
    monkeypatch.setattr(owner, attribute, failing)


@pytest.mark.parametrize("kind", list(WRITERS))
def test_disk_full_leaves_no_partial_file_and_keeps_the_old_one(kind, tmp_path, monkeypatch):
    make, name, library_call = WRITERS[kind]
    write = make(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"the previous, complete version")
    _patch_target(monkeypatch, library_call)
    with pytest.raises(OutputError, match=r"cannot write output \(disk full\); nothing was written"):
        write(out / name)
    assert sorted(p.name for p in out.iterdir()) == [name], "a temporary file was left behind"
    assert (out / name).read_bytes() == b"the previous, complete version"


@pytest.mark.parametrize("kind", list(WRITERS))
def test_writers_work_when_the_disk_is_fine(kind, tmp_path):
    make, name, _ = WRITERS[kind]
    make(tmp_path)(tmp_path / "out" / name)
    assert (tmp_path / "out" / name).stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [name]


def test_infer_on_a_full_disk_says_so_in_one_line(tiny_dataset, tiny_run, tmp_path, monkeypatch):
    from medseg.cli import main

    monkeypatch.setattr(nib, "save", _half_then_enospc(nib.save))
    case = tiny_dataset.parent / "phantom_006_oblique"
    result = CliRunner().invoke(main, ["infer", str(tiny_run), "--input", str(case), "--output-dir",
                                       str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "phantom_006_oblique_seg.nii.gz: cannot write output (disk full); no file of this " \
        "case was kept" in lines[0], result.output
    assert list((tmp_path / "out").iterdir()) == []


def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    from medseg.io.atomic import prepare_output_dir

    monkeypatch.setattr("os.access", lambda path, mode: False)  # what a non-root user sees on a 0555 folder
    with pytest.raises(OutputError, match="out: output directory is not writable"):
        prepare_output_dir(tmp_path / "out")


def test_a_case_whose_last_writer_fails_leaves_none_of_its_files(tiny_dataset, tiny_run, tmp_path, monkeypatch):
    """The label map is written first; the Slicer segmentation after it fails: the label map goes too."""
    import nrrd

    from medseg.cli import main

    original = nrrd.write

    def failing(path, data, *args, **kwargs):  # nrrd.write takes the path first
        _half_then_enospc(lambda d, p, *a, **k: original(p, d, *a, **k))(data, path, *args, **kwargs)

    monkeypatch.setattr(nrrd, "write", failing)
    case = tiny_dataset.parent / "phantom_006_oblique"
    result = CliRunner().invoke(main, ["infer", str(tiny_run), "--input", str(case), "--output-dir",
                                       str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "phantom_006_oblique.seg.nrrd: cannot write output (disk full); no file of this case " \
        "was kept" in lines[0], lines
    assert list((tmp_path / "out").iterdir()) == []


def test_atomic_set_renames_together_or_not_at_all(tmp_path):
    from medseg.io.atomic import atomic_set, write_text_atomic

    with pytest.raises(RuntimeError), atomic_set():
        write_text_atomic(tmp_path / "a.txt", "a")
        assert not (tmp_path / "a.txt").exists()  # not visible before the set is complete
        raise RuntimeError("the second writer failed")
    assert list(tmp_path.iterdir()) == []
    with atomic_set():
        write_text_atomic(tmp_path / "a.txt", "a")
        write_text_atomic(tmp_path / "b.txt", "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_an_interrupt_halfway_through_the_renames_leaves_none_of_the_set(tmp_path, monkeypatch):
    """A second Ctrl-C while a case's files are being renamed: no temporary file, no half of the case."""
    import os

    from medseg.io.atomic import atomic_set, write_text_atomic

    replace, calls = os.replace, []

    def interrupted(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt
        replace(source, target)

    with pytest.raises(KeyboardInterrupt), atomic_set():
        for name in ("a.txt", "b.txt", "c.txt"):
            write_text_atomic(tmp_path / name, name)
        monkeypatch.setattr(os, "replace", interrupted)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def test_a_later_writer_of_the_set_amends_an_earlier_ones_pending_file(tmp_path):
    """Inside a case's set nothing is renamed yet: ``staged`` finds the pending file, and the amended
    version is the one that lands (the study writer adds its registration to the measurements)."""
    from medseg.io.atomic import atomic_set, staged, write_text_atomic

    target = tmp_path / "case_measurements.json"
    with atomic_set():
        write_text_atomic(target, "first")
        assert not target.exists() and staged(target).read_text() == "first"
        write_text_atomic(target, staged(target).read_text() + " amended")
    assert target.read_text() == "first amended"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case_measurements.json"]  # no temporary left
    assert staged(target) == target
