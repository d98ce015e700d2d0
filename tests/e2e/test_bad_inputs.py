"""The bad-input matrix: every wrong file, folder or option is one line naming it, and nothing else happens.

Each case builds its inputs in a fresh folder, runs the ``medseg`` CLI once and asserts the same
five things: a non-zero exit, exactly one line on the terminal (``medseg: error: <file>: <problem>``),
no traceback, no new or partial files anywhere (no stray outputs, no temporary files), and every
input byte-identical afterwards. DICOM cases use what this branch does with a ``.dcm`` (a clear
refusal); the DICOM reader branch extends them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from medseg.bundle.find import find_bundle
from medseg.bundle.runs import create_run_bundle
from medseg.cli import main
from medseg.data.synthetic import MODALITIES, make_phantom, save_phantom
from tests.cli_helpers import override_args
from tests.conftest import TINY
from tests.dicom_helpers import write_ct_slice


def _tiny_run(root: Path, **overrides) -> Path:
    """A run directory holding an untrained tiny network: enough to reach every inference check."""
    run = create_run_bundle(find_bundle("brain_tumor"), root, {**TINY, **overrides})
    network = run.parser("inference").get_parsed_content("network_def")
    (root / "models").mkdir(exist_ok=True)
    torch.save(network.state_dict(), root / "models" / "model.pt")
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return _tiny_run(tmp_path_factory.mktemp("bad_inputs") / "run")


def _case(folder: Path, case_id: str = "case", seed: int = 3, geometry: str = "ras") -> dict:
    """A small four-modality phantom (8 mm voxels, about 17 x 19 x 14) and its manifest entry."""
    return save_phantom(make_phantom(seed, geometry, spacing=8.0), folder / case_id, case_id)


def _nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else affine), path)
    return path


def _edit(path: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    image = nib.load(path)
    _nifti(path, change(np.asarray(image.dataobj)), image.affine)


def _poke(value: float) -> Callable[[np.ndarray], np.ndarray]:
    """Set one voxel inside the head to ``value`` (NaN/Inf from a broken conversion)."""

    def change(array: np.ndarray) -> np.ndarray:
        array = array.astype(np.float32)
        array[tuple(s // 2 for s in array.shape)] = value
        return array

    return change


def _manifest(path: Path, **sections) -> Path:
    path.write_text(json.dumps(sections))
    return path


def _infer(run: Path, target: Path, out: Path, *extra) -> list:
    return ["infer", run, "--input", target, "--output-dir", out, "--device", "cpu", *extra]


def _train(manifest: Path, out: Path, *extra) -> list:
    overrides = override_args(TINY)
    return ["train", "brain_tumor", "--data", manifest, "--output-dir", out, "--epochs", "1", "--device", "cpu",
            *overrides, *extra]


def _evaluate(pred: Path, truth: Path, *extra) -> list:
    return ["evaluate", "--pred", pred, "--truth", truth, "--bundle", "brain_tumor", *extra]


def _dicom(path: Path, series: str) -> Path:
    """A DICOM Part-10 file (preamble, DICM, a Series UID element) with no pixel data."""
    uid = series.encode() + b"\x00" * (len(series) % 2)
    element = b"\x20\x00\x0e\x00" + b"UI" + len(uid).to_bytes(2, "little") + uid
    path.write_bytes(b"\x00" * 128 + b"DICM" + element)
    return path


def _image_dicom(path: Path, series: str, index: int, sideways: float = 0.0, spacing: float = 1.0) -> Path:
    """A small CT slice with pixel data, in series ``series`` (``sideways``: mm per slice off the normal)."""
    return write_ct_slice(path, series, [0, sideways * index, index], index, spacing)


# Each case: (work folder, trained run) -> (CLI arguments, file named in the error, the problem).
Setup = Callable[[Path, Path], tuple[list, str, str]]
CASES: dict[str, Setup] = {}


def case(name: str):
    def register(function: Setup) -> Setup:
        CASES[name] = function
        return function

    return register


# -- inference: unreadable or wrong files ----------------------------------------------------------
@case("infer/truncated .nii.gz")
def _(w, run):
    _case(w)
    path = w / "case" / "case_t2.nii.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return _infer(run, w / "case", w / "out"), "case_t2.nii.gz", "truncated or corrupt"


@case("infer/gzip with a truncated header")
def _(w, run):
    _case(w)
    path = w / "case" / "case_t1.nii.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:100]))
    return _infer(run, w / "case", w / "out"), "case_t1.nii.gz", "not a readable NIfTI file"


@case("infer/text file named .nii")
def _(w, run):
    _case(w)
    (w / "case" / "case_flair.nii.gz").unlink()
    (w / "case" / "case_flair.nii").write_text("patient export log\n" * 50)
    return _infer(run, w / "case", w / "out"), "case_flair.nii", "not a readable NIfTI file"


@case("infer/DICOM file without pixel data")
def _(w, run):
    path = _dicom(w / "scan.dcm", "1.2.3")
    return _infer(run, path, w / "out"), "scan.dcm", "DICOM file holds no image"


@case("infer/DICOM folder with mixed series")
def _(w, run):
    (w / "study").mkdir()
    for index, uid in enumerate(("1.2.3", "1.2.4")):
        _image_dicom(w / "study" / f"{index}.dcm", uid, index)
    return _infer(run, w / "study", w / "out"), "study", "2 series in the folder, pick one with --series"


@case("infer/T1 and T2 only where the bundle needs T1ce or FLAIR")
def _(w, run):
    _case(w)
    (w / "case" / "case_flair.nii.gz").unlink()
    (w / "case" / "case_t1ce.nii.gz").unlink()
    return _infer(run, w / "case", w / "out"), "case", \
        "missing sequences t1ce, flair; the bundle needs any subset containing t1ce or flair"


@case("infer/4D file with 3 channels")
def _(w, run):
    _case(w)
    stack = np.stack([np.asarray(nib.load(w / "case" / f"case_{m}.nii.gz").dataobj) for m in MODALITIES[:3]], -1)
    path = _nifti(w / "study.nii.gz", stack, nib.load(w / "case" / "case_t1.nii.gz").affine)
    return _infer(run, path, w / "out"), "study.nii.gz", "found 3 image channel(s), the bundle needs 4"


@case("infer/modalities with different shapes")
def _(w, run):
    _case(w)
    _edit(w / "case" / "case_t2.nii.gz", lambda a: a[:-1])
    return _infer(run, w / "case", w / "out"), "case_t2.nii.gz", "differs from case_t1.nii.gz"


@case("infer/modalities with different affines")
def _(w, run):
    _case(w)
    path = w / "case" / "case_t1ce.nii.gz"
    image = nib.load(path)
    _nifti(path, np.asarray(image.dataobj), image.affine @ np.diag([1.0, 1.0, 1.5, 1.0]))
    return _infer(run, w / "case", w / "out"), "case_t1ce.nii.gz", "affine differs"


@case("infer/NaN voxels")
def _(w, run):
    _case(w)
    _edit(w / "case" / "case_t2.nii.gz", _poke(np.nan))
    return _infer(run, w / "case", w / "out"), "case_t2.nii.gz", "NaN or Inf"


@case("infer/Inf voxels")
def _(w, run):
    _case(w)
    _edit(w / "case" / "case_flair.nii.gz", _poke(np.inf))
    return _infer(run, w / "case", w / "out"), "case_flair.nii.gz", "NaN or Inf"


@case("infer/all-zero image")
def _(w, run):
    _case(w)
    _edit(w / "case" / "case_t1ce.nii.gz", np.zeros_like)
    return _infer(run, w / "case", w / "out"), "case_t1ce.nii.gz", "all zeros"


@case("infer/2D image to a 3D bundle")
def _(w, run):
    _case(w)
    for m in MODALITIES:
        _edit(w / "case" / f"case_{m}.nii.gz", lambda a: a[:, :, 7:8])
    return _infer(run, w / "case", w / "out"), "case_t1.nii.gz", "the bundle needs 3D volumes"


@case("infer/3D volume to a 2D bundle")
def _(w, run):
    _case(w)
    run2d = _tiny_run(w / "run2d", **{"network_def#spatial_dims": 2, "roi_size": [32, 32]})
    return _infer(run2d, w / "case", w / "out"), "case_t1.nii.gz", "the bundle needs 2D images"


@case("infer/missing input")
def _(w, run):
    return _infer(run, w / "nowhere.nii.gz", w / "out"), "nowhere.nii.gz", "input not found"


# -- inference: manifests ------------------------------------------------------------------------
@case("infer/empty manifest")
def _(w, run):
    return _infer(run, _manifest(w / "data.json"), w / "out"), "data.json", "lists no cases"


@case("infer/manifest with a missing path")
def _(w, run):
    entry = _case(w)
    entry["image"][2] = "case/case_T2.nii.gz"
    return _infer(run, _manifest(w / "data.json", test=[entry]), w / "out"), "case_T2.nii.gz", "file not found"


@case("infer/manifest whose last case is bad: no output for the good ones either")
def _(w, run):
    good, bad = _case(w, "good", seed=4), _case(w, "bad", seed=5)
    _edit(w / "bad" / "bad_flair.nii.gz", lambda a: a[:, :-2])
    manifest = _manifest(w / "data.json", test=[good, bad])
    return _infer(run, manifest, w / "out"), "bad_flair.nii.gz", "differs from bad_t1.nii.gz"


@case("infer/manifest that is not JSON")
def _(w, run):
    (w / "data.json").write_text("{'test': [")
    return _infer(run, w / "data.json", w / "out"), "data.json", "not valid JSON"


# -- inference: outputs --------------------------------------------------------------------------
@case("infer/output directory not writable")
def _(w, run):
    _case(w)
    (w / "results").write_text("a file where a folder should be\n")
    return _infer(run, w / "case", w / "results" / "out"), "results", "cannot create output directory"


@case("infer/output directory read-only")
def _(w, run):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes through file permissions")
    _case(w)
    (w / "results").mkdir(mode=0o555)
    return _infer(run, w / "case", w / "results"), "results", "not writable"


@case("infer/output path equal to an input")
def _(w, run):
    _case(w)
    stack = np.stack([np.asarray(nib.load(w / "case" / f"case_{m}.nii.gz").dataobj) for m in MODALITIES], -1)
    _nifti(w / "study_seg.nii.gz", stack, nib.load(w / "case" / "case_t1.nii.gz").affine)
    return _infer(run, w / "study_seg.nii.gz", w), "study_seg.nii.gz", "output path is one of the inputs"


@case("infer/output over a manifest's ground truth")
def _(w, run):
    entry = _case(w)
    manifest = _manifest(w / "data.json", test=[entry])
    return _infer(run, manifest, w / "case"), "case_seg.nii.gz", "output path is one of the inputs"


# -- inference: checkpoints, bundles, options ----------------------------------------------------
def _run_copy(w: Path, run: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, w / "run"))


@case("infer/checkpoint from a different bundle")
def _(w, run):
    _case(w)
    copy = _run_copy(w, run)
    other = _tiny_run(w / "other", **{"network_def#out_channels": 5})  # a 5-structure bundle's weights
    (copy / "models" / "model.pt").write_bytes((other / "models" / "model.pt").read_bytes())
    return _infer(copy, w / "case", w / "out"), "model.pt", "(5, 4, 1, 1, 1) in the checkpoint, (3, 4, 1, 1, 1)"


@case("infer/corrupt checkpoint")
def _(w, run):
    _case(w)
    copy = _run_copy(w, run)
    path = copy / "models" / "model.pt"
    path.write_bytes(path.read_bytes()[:1000])
    return _infer(copy, w / "case", w / "out"), "model.pt", "not a readable PyTorch file"


@case("infer/checkpoint with a pickle payload")
def _(w, run):
    _case(w)
    copy = _run_copy(w, run)

    class Payload:
        def __reduce__(self):
            return (open, (str(w / "PAYLOAD_RAN"), "w"))

    torch.save({"model": Payload()}, copy / "models" / "model.pt")
    return _infer(copy, w / "case", w / "out"), "model.pt", "it holds pickled Python objects"


@case("infer/missing checkpoint")
def _(w, run):
    _case(w)
    copy = _run_copy(w, run)
    (copy / "models" / "model.pt").unlink()
    return _infer(copy, w / "case", w / "out"), "model.pt", "checkpoint not found"


@case("infer/unknown --override key")
def _(w, run):
    _case(w)
    return _infer(run, w / "case", w / "out", "--override", "roi_sise=[32,32,32]"), "inference.json", "roi_sise"


@case("infer/unknown bundle name")
def _(w, run):
    _case(w)
    return _infer("brain_tumour", w / "case", w / "out"), "brain_tumour", "no bundle or run directory"


@case("infer/--device cuda without a GPU")
def _(w, run):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    _case(w)
    args = _infer(run, w / "case", w / "out")
    return [*args[:-1], "cuda"], "--device cuda", "no CUDA GPU"


# -- training ------------------------------------------------------------------------------------
def _train_set(w: Path, bad_seed: int = 5) -> tuple[dict, dict]:
    return _case(w, "good", seed=4), _case(w, "bad", seed=bad_seed)


@case("train/label with an unknown value")
def _(w, run):
    good, bad = _train_set(w)
    _edit(w / "bad" / "bad_seg.nii.gz", lambda a: np.where(a == 2, 3, a).astype(np.uint8))
    manifest = _manifest(w / "data.json", training=[good], validation=[bad])
    return _train(manifest, w / "run"), "bad_seg.nii.gz", "label values [3] are not in the schema"


@case("train/label on a different grid")
def _(w, run):
    good, bad = _train_set(w)
    _edit(w / "bad" / "bad_seg.nii.gz", lambda a: a[1:])
    manifest = _manifest(w / "data.json", training=[good, bad])
    return _train(manifest, w / "run"), "bad_seg.nii.gz", "differs from the image shape"


@case("train/NaN voxels")
def _(w, run):
    good, bad = _train_set(w)
    _edit(w / "bad" / "bad_t1.nii.gz", _poke(np.nan))
    manifest = _manifest(w / "data.json", training=[good, bad])
    return _train(manifest, w / "run"), "bad_t1.nii.gz", "NaN or Inf"


@case("train/all-zero image")
def _(w, run):
    good, bad = _train_set(w)
    _edit(w / "bad" / "bad_flair.nii.gz", np.zeros_like)
    manifest = _manifest(w / "data.json", training=[good, bad])
    return _train(manifest, w / "run"), "bad_flair.nii.gz", "all zeros"


@case("train/truncated label")
def _(w, run):
    good, bad = _train_set(w)
    path = w / "bad" / "bad_seg.nii.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    manifest = _manifest(w / "data.json", training=[good, bad])
    return _train(manifest, w / "run"), "bad_seg.nii.gz", "truncated header"


@case("train/empty manifest")
def _(w, run):
    return _train(_manifest(w / "data.json", training=[]), w / "run"), "data.json", "lists no cases"


@case("train/manifest with a missing path")
def _(w, run):
    good, bad = _train_set(w)
    bad["label"] = "bad/bad_label.nii.gz"
    manifest = _manifest(w / "data.json", training=[good, bad])
    return _train(manifest, w / "run"), "bad_label.nii.gz", "file not found"


@case("train/case without a label")
def _(w, run):
    good, bad = _train_set(w)
    del bad["label"]
    manifest = _manifest(w / "data.json", training=[good, bad])
    return _train(manifest, w / "run"), "data.json", "bad: training case has no label"


@case("train/output directory not writable")
def _(w, run):
    good, bad = _train_set(w)
    (w / "runs").write_text("not a folder\n")
    manifest = _manifest(w / "data.json", training=[good, bad])
    return _train(manifest, w / "runs" / "r"), "runs", "cannot create"


@case("train/unknown bundle name")
def _(w, run):
    args = _train(_manifest(w / "data.json", training=[_case(w)]), w / "run")
    args[1] = "brain_tumour"
    return args, "brain_tumour", "no bundle or run directory"


@case("train/unknown --override key")
def _(w, run):
    manifest = _manifest(w / "data.json", training=[_case(w)])
    return _train(manifest, w / "run", "--override", "learning_rat=0.1"), "configs", "unknown --override key"


# -- evaluation ----------------------------------------------------------------------------------
def _eval_set(w: Path) -> tuple[Path, Path]:
    _case(w / "truth", "case")
    (w / "pred").mkdir()
    (w / "pred" / "case_seg.nii.gz").write_bytes((w / "truth" / "case" / "case_seg.nii.gz").read_bytes())
    return w / "pred", w / "truth"


@case("evaluate/truncated prediction")
def _(w, run):
    pred, truth = _eval_set(w)
    path = pred / "case_seg.nii.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return _evaluate(pred, truth), "case_seg.nii.gz", "truncated header"


@case("evaluate/truth with an unknown label value")
def _(w, run):
    pred, truth = _eval_set(w)
    _edit(truth / "case" / "case_seg.nii.gz", lambda a: np.where(a == 4, 5, a).astype(np.uint8))
    return _evaluate(pred, truth), "case_seg.nii.gz", "label values [5] are not in the schema"


@case("evaluate/prediction on a different grid")
def _(w, run):
    pred, truth = _eval_set(w)
    path = pred / "case_seg.nii.gz"
    image = nib.load(path)
    _nifti(path, np.asarray(image.dataobj), image.affine @ np.diag([-1.0, 1.0, 1.0, 1.0]))
    return _evaluate(pred, truth), "case_seg.nii.gz", "not on the same grid"


@case("evaluate/NaN in the truth")
def _(w, run):
    pred, truth = _eval_set(w)
    _edit(truth / "case" / "case_seg.nii.gz", lambda a: np.where(a == 4, np.nan, a).astype(np.float32))
    return _evaluate(pred, truth), "case_seg.nii.gz", "NaN or Inf"


@case("evaluate/no predictions")
def _(w, run):
    pred, truth = _eval_set(w)
    (pred / "case_seg.nii.gz").unlink()
    return _evaluate(pred, truth), "pred", "no predicted label files"


@case("evaluate/CSV path equal to an input")
def _(w, run):
    pred, truth = _eval_set(w)
    return _evaluate(pred, truth, "--csv", pred / "case_seg.nii.gz"), "case_seg.nii.gz", "one of the inputs"


@case("evaluate/CSV folder not writable")
def _(w, run):
    pred, truth = _eval_set(w)
    (w / "reports").write_text("not a folder\n")
    return _evaluate(pred, truth, "--csv", w / "reports" / "e.csv"), "reports", "cannot create output directory"


@case("evaluate/prediction with a truncated body")
def _(w, run):
    pred, truth = _eval_set(w)
    path = pred / "case_seg.nii.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    return _evaluate(pred, truth), "case_seg.nii.gz", "truncated or corrupt"


@case("infer/output into the case folder over its ground truth")
def _(w, run):
    _case(w)
    return _infer(run, w / "case", w / "case"), "case_seg.nii.gz", "already in the input folder"


@case("infer/gantry-tilted DICOM series")
def _(w, run):
    (w / "tilted").mkdir()
    for index in range(4):
        _image_dicom(w / "tilted" / f"{index}.dcm", "1.2.3", index, sideways=0.3)
    return _infer(run, w / "tilted", w / "out"), "tilted", "gantry tilt of about 16.7 degrees"


@case("infer/DICOM slices with differing pixel spacing")
def _(w, run):
    (w / "mixed").mkdir()
    for index in range(4):
        _image_dicom(w / "mixed" / f"{index}.dcm", "1.2.3", index, spacing=0.8 if index == 2 else 1.0)
    return _infer(run, w / "mixed", w / "out"), "mixed", "pixel spacing differs between slices"


@case("infer/DICOM slices at uneven positions")
def _(w, run):
    (w / "uneven").mkdir()
    for index in (0, 1, 2, 4):
        _image_dicom(w / "uneven" / f"{index}.dcm", "1.2.3", index)
    return _infer(run, w / "uneven", w / "out"), "uneven", "about 1 slice(s) missing"


@case("dicom-seg/label values outside the bundle's schema")
def _(w, run):
    (w / "series").mkdir()
    for index in range(4):
        _image_dicom(w / "series" / f"{index}.dcm", "1.2.3", index)
    label = _nifti(w / "ct_seg.nii.gz", np.arange(64, dtype=np.uint8).reshape(4, 4, 4) % 9)
    args = ["dicom-seg", label, "--series", w / "series", "--bundle", "brain_tumor", "--output", w / "seg.dcm"]
    return args, "ct_seg.nii.gz", "label values [3, 5, 6, 7, 8] are not in the schema [1, 2, 4]"


# -- degenerate studies ---------------------------------------------------------------------------
@case("infer/5D NIfTI (X, Y, Z, 1, C)")
def _(w, run):
    _case(w)
    stack = np.stack([np.asarray(nib.load(w / "case" / f"case_{m}.nii.gz").dataobj) for m in MODALITIES], -1)
    path = _nifti(w / "study.nii.gz", stack[:, :, :, None, :], nib.load(w / "case" / "case_t1.nii.gz").affine)
    return _infer(run, path, w / "out"), "study.nii.gz", "5D NIfTI (shape"


@case("infer/3 x 3 x 3 study")
def _(w, run):
    path = _nifti(w / "tiny.nii.gz", np.random.default_rng(0).random((3, 3, 3, 4)).astype(np.float32))
    return _infer(run, path, w / "out"), "tiny.nii.gz", "image is only 3 x 3 x 3 voxels"


@case("infer/2-slice slab")
def _(w, run):
    _case(w)
    for m in MODALITIES:
        _edit(w / "case" / f"case_{m}.nii.gz", lambda a: a[:, :, 6:8])
    return _infer(run, w / "case", w / "out"), "case_t1.nii.gz", "x 2 voxels; at least 8 per axis"


@case("infer/modalities whose qforms disagree while their sforms agree")
def _(w, run):
    _case(w)
    path = w / "case" / "case_t2.nii.gz"
    image = nib.load(path)
    image.set_qform(image.get_qform() @ np.diag([1.0, 1.0, 1.2, 1.0]), code=1)  # the sform is untouched
    nib.save(image, path)
    return _infer(run, w / "case", w / "out"), "case_t2.nii.gz", "its qform differs from case_t1.nii.gz"


@case("infer/output over the ground truth through a symlinked data root")
def _(w, run):
    entry = _case(w / "data")
    (w / "link").symlink_to(w / "data", target_is_directory=True)  # data behind a symlink, as on clusters
    manifest = _manifest(w / "m.json", data_root=str(w / "link"), test=[entry])
    return _infer(run, manifest, w / "data" / "case"), "case_seg.nii.gz", "output path is one of the inputs"


# -- case ids: they name output files -------------------------------------------------------------
@case("infer/manifest id that climbs out of the output folder")
def _(w, run):
    entry = {**_case(w), "id": "../x/gt"}
    return _infer(run, _manifest(w / "data.json", test=[entry]), w / "out"), "data.json", "not a plain file name"


@case("infer/manifest id that is an absolute path")
def _(w, run):
    entry = {**_case(w), "id": str(w / "elsewhere")}
    return _infer(run, _manifest(w / "data.json", test=[entry]), w / "out"), "data.json", "not a plain file name"


@case("infer/manifest id '.' (hidden outputs)")
def _(w, run):
    entry = {**_case(w), "id": "."}
    return _infer(run, _manifest(w / "data.json", test=[entry]), w / "out"), "data.json", "starts with '.'"


@case("infer/two manifest entries with one id")
def _(w, run):
    first, second = _case(w, "a", seed=4), _case(w, "b", seed=5)
    manifest = _manifest(w / "data.json", test=[{**first, "id": "same"}, {**second, "id": "same"}])
    return _infer(run, manifest, w / "out"), "data.json", "two cases have the id 'same'"


@case("infer/two --input folders with one name")
def _(w, run):
    _case(w / "site_a", seed=4)
    _case(w / "site_b", seed=5)
    args = [*_infer(run, w / "site_a" / "case", w / "out"), "--input", w / "site_b" / "case"]
    return args, "case", "two cases have the id 'case'"


# -- the matrix ----------------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden and temporary ones included) with its SHA-256.

    The content-keyed preprocessing cache (``$MEDSEG_CACHE``) is not an output: entries for the
    good cases of a manifest may be written (atomically) before a bad case fails.
    """
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "cache"}


def displayed_lines(text: str) -> list[str]:
    """What a terminal shows: carriage returns overwrite, blank lines do not count."""
    return [line.split("\r")[-1] for line in text.split("\n") if line.split("\r")[-1].strip()]


def test_the_matrix_is_complete():
    assert len(CASES) >= 25
    assert {name.split("/")[0] for name in CASES} >= {"infer", "train", "evaluate", "dicom-seg"}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, run_dir, monkeypatch):
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    args, named, problem = CASES[name](work, run_dir)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    lines = displayed_lines(result.output)
    assert len(lines) == 1, result.output
    assert lines[0].startswith("medseg: error: "), lines[0]
    assert named in lines[0] and problem in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before, "outputs were left behind or an input changed"


@pytest.mark.parametrize("name", ["infer/truncated .nii.gz", "infer/checkpoint with a pickle payload",
                                  "train/label with an unknown value"])
def test_a_real_process_prints_one_line_on_stderr_and_nothing_else(name, tmp_path, run_dir):
    """Outside click's test runner too: no warnings, log lines or progress bars around the error."""
    import os
    import subprocess
    import sys

    work = tmp_path / "work"
    work.mkdir()
    args, named, problem = CASES[name](work, run_dir)
    before = snapshot(tmp_path)
    done = subprocess.run([sys.executable, "-m", "medseg", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MEDSEG_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("medseg: error: "), done.stderr
    assert named in done.stderr and problem in done.stderr
    assert snapshot(tmp_path) == before


def test_debug_shows_the_traceback(tmp_path, run_dir):
    args, _, _ = CASES["infer/NaN voxels"](tmp_path, run_dir)
    result = CliRunner().invoke(main, ["--debug", *map(str, args)])
    assert result.exit_code != 0
    assert "NaN or Inf" in str(result.exception)


def _warnings_of_a_real_run(tmp_path: Path, run: Path, args: list) -> list[str]:
    """stderr lines of ``medseg infer`` in a real process (nibabel and Python warnings write there directly)."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "medseg", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MEDSEG_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_negative_pixdim_is_one_medseg_warning_not_a_nibabel_flood(tmp_path, run_dir):
    _case(tmp_path)
    for m in MODALITIES:
        path = tmp_path / "case" / f"case_{m}.nii.gz"  # nibabel refuses to save this, so patch the bytes
        raw = bytearray(gzip.decompress(path.read_bytes()))
        pixdim = np.frombuffer(bytes(raw[76:108]), "<f4").copy()
        pixdim[1:4] = -np.abs(pixdim[1:4])
        raw[76:108] = pixdim.tobytes()
        path.write_bytes(gzip.compress(bytes(raw)))
    lines = _warnings_of_a_real_run(tmp_path, run_dir, _infer(run_dir, tmp_path / "case", tmp_path / "out"))
    assert all(line.startswith("medseg: warning: ") for line in lines), lines  # nothing from nibabel
    pixdim = [line for line in lines if "negative voxel sizes" in line]  # (the tiny model may add a sanity line)
    assert len(pixdim) == 4, lines  # one per modality file
    assert {line.split(": ")[2] for line in pixdim} == {str(tmp_path / "case" / f"case_{m}.nii.gz") for m in MODALITIES}


def test_rerunning_evaluate_replaces_its_own_csv(tmp_path):
    """The guards refuse inputs only: an earlier run's own output is replaced, atomically."""
    pred, truth = _eval_set(tmp_path)
    for _ in range(2):
        result = CliRunner().invoke(main, [str(a) for a in _evaluate(pred, truth)])
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in pred.iterdir()) == ["case_seg.nii.gz"]
    assert (pred.parent / "pred_evaluation.csv").is_file()


def test_evaluate_scores_a_subset_with_cases_or_allow_missing(tmp_path):
    _case(tmp_path / "truth", "other", seed=6)  # a truth with no prediction yet
    pred, truth = _eval_set(tmp_path)
    refused = CliRunner().invoke(main, [str(a) for a in _evaluate(pred, truth)])
    assert refused.exit_code == 1 and "no prediction for ground-truth case(s) ['other']" in refused.output
    for option in (["--cases", "case"], ["--allow-missing"]):
        result = CliRunner().invoke(main, [str(a) for a in _evaluate(pred, truth, "--json", *option)])
        assert result.exit_code == 0, result.output
        document = json.loads(result.output.strip().splitlines()[-1])
        assert [row["case"] for row in document["per_case"]] == ["case"]
        assert document["summary"]["WT"]["mean"] == 1.0
    unknown = CliRunner().invoke(main, [str(a) for a in _evaluate(pred, truth, "--cases", "case,nobody")])
    assert unknown.exit_code == 1 and "['nobody'] found in neither" in unknown.output
