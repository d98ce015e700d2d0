"""Studies medseg infer --register must refuse: one line naming the series, nothing written."""

import shutil

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from medseg.cli import main
from medseg.errors import InputError
from medseg.study import register as register_module
from medseg.study.register import RegistrationError, read_image, register_rigid
from medseg.study.simulate import Acquisition, acquire


def _study(tiny_dataset, tmp_path, name="phantom_000_ras"):
    study = tmp_path / "study"
    shutil.copytree(tiny_dataset.parent / name, study)
    (study / f"{name}_seg.nii.gz").unlink()
    return study


def _infer(tiny_run, study, out, *extra):
    return CliRunner().invoke(main, ["infer", str(tiny_run), "--trust", "--input", str(study), "--output-dir",
                                     str(out), "--device", "cpu", "--register", *extra])


def _one_error_line(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("medseg: error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_study_without_t1ce_is_refused(tiny_dataset, tiny_run, tmp_path):
    study = _study(tiny_dataset, tmp_path)
    (study / "phantom_000_ras_t1ce.nii.gz").rename(study / "phantom_000_ras_dwi.nii.gz")
    result = _infer(tiny_run, study, tmp_path / "out")
    line = _one_error_line(result)
    assert "no T1ce series in the study" in line and "phantom_000_ras_flair.nii.gz" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_two_candidate_series_are_refused(tiny_dataset, tiny_run, tmp_path):
    study = _study(tiny_dataset, tmp_path)
    shutil.copyfile(study / "phantom_000_ras_t1ce.nii.gz", study / "phantom_000_ras_t1_post_gd.nii.gz")
    line = _one_error_line(_infer(tiny_run, study, tmp_path / "out"))
    assert "2 candidate series for t1ce" in line and "phantom_000_ras_t1_post_gd.nii.gz" in line
    assert "--sequence t1ce=" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_options_need_register(tiny_dataset, tiny_run, tmp_path):
    study = tiny_dataset.parent / "phantom_000_ras"
    result = CliRunner().invoke(main, ["infer", str(tiny_run), "--trust", "--input", str(study), "--output-dir",
                                       str(tmp_path / "out"), "--all-grids"])
    assert result.exit_code != 0 and "need --register" in result.output


def test_sequences_on_their_own_grids_are_refused_without_register(tiny_dataset, tiny_run, tmp_path):
    study = _study(tiny_dataset, tmp_path)
    flair = study / "phantom_000_ras_flair.nii.gz"
    moved, _ = acquire(read_image(flair), Acquisition((0.0, 0.0, 5.0), (2.0, 0.0, 0.0), (4.0, 4.0, 6.0)),
                       np.zeros(3))
    from medseg.study.simulate import write_nifti

    write_nifti(moved, flair)
    result = CliRunner().invoke(main, ["infer", str(tiny_run), "--trust", "--input", str(study), "--output-dir",
                                       str(tmp_path / "out"), "--device", "cpu"])
    line = _one_error_line(result)
    assert "phantom_000_ras_flair.nii.gz" in line and "--register" in line


def test_implausible_registration_is_refused(tiny_dataset, monkeypatch):
    t1ce = tiny_dataset.parent / "phantom_000_ras" / "phantom_000_ras_t1ce.nii.gz"
    fixed = read_image(t1ce)
    centre = np.asarray(fixed.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in fixed.GetSize()]))
    moving, _ = acquire(fixed, Acquisition((0.0, 0.0, 0.0), (16.0, 0.0, 0.0), (4.0, 4.0, 4.0)), centre)
    assert register_rigid(fixed, moving, "ok").translation_mm == pytest.approx(16.0, abs=2.0)
    monkeypatch.setattr(register_module, "MAX_TRANSLATION_MM", 10.0)  # the same motion, now beyond the limit
    with pytest.raises(RegistrationError) as err:
        register_rigid(fixed, moving, "series 1.2.3 ('ax flair')")
    assert isinstance(err.value, InputError)
    assert str(err.value).startswith("series 1.2.3 ('ax flair'): registration ended on an implausible motion")


def test_label_lies_on_the_phantom_t1ce_grid(tiny_dataset, tiny_run, tmp_path):
    study = _study(tiny_dataset, tmp_path, "phantom_002_oblique")
    result = _infer(tiny_run, study, tmp_path / "out", "--allow-skull")
    assert result.exit_code == 0, result.output
    mask = nib.load(tmp_path / "out" / "study_seg.nii.gz")
    t1ce = nib.load(study / "phantom_002_oblique_t1ce.nii.gz")
    assert mask.shape == t1ce.shape and np.array_equal(mask.affine, t1ce.affine)
    assert (mask.header["qform_code"], mask.header["sform_code"]) == (t1ce.header["qform_code"],
                                                                      t1ce.header["sform_code"])
