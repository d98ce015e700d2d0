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
    study = _study(tiny_dataset, tmp_path, "phantom_006_oblique")
    result = _infer(tiny_run, study, tmp_path / "out", "--allow-skull")
    assert result.exit_code == 0, result.output
    mask = nib.load(tmp_path / "out" / "study_seg.nii.gz")
    t1ce = nib.load(study / "phantom_006_oblique_t1ce.nii.gz")
    assert mask.shape == t1ce.shape and np.array_equal(mask.affine, t1ce.affine)
    assert (mask.header["qform_code"], mask.header["sform_code"]) == (t1ce.header["qform_code"],
                                                                      t1ce.header["sform_code"])


def test_one_file_as_two_sequences_is_refused(tiny_dataset, tiny_run, tmp_path):
    study = _study(tiny_dataset, tmp_path)
    t1ce = study / "phantom_000_ras_t1ce.nii.gz"
    line = _one_error_line(_infer(tiny_run, study, tmp_path / "out", "--sequence", f"t1={t1ce}",
                                  "--sequence", f"t1ce={t1ce}"))
    assert "t1 (" in line and "t1ce (" in line and "are the same file" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_nan_voxel_is_named(tiny_dataset, tiny_run, tmp_path):
    study = _study(tiny_dataset, tmp_path)
    path = study / "phantom_000_ras_t1ce.nii.gz"
    image = nib.load(path)
    data = np.asarray(image.dataobj, np.float32)
    data[5, 6, 7] = np.nan
    nib.save(nib.Nifti1Image(data, image.affine, image.header), path)
    line = _one_error_line(_infer(tiny_run, study, tmp_path / "out"))
    assert line.startswith(f"medseg: error: {path}: 1 NaN and 0 infinite voxel(s) (the first at voxel (5, 6, 7))")
    assert "brain-extracted" not in line


def test_a_sequence_placed_differently_by_slicer_is_refused(tiny_dataset, tiny_run, tmp_path):
    """The T2's qform (code 1) lies 10 mm from its sform (code 2); the other sequences have qform_code 0."""
    study = _study(tiny_dataset, tmp_path)
    for path in sorted(study.glob("*.nii.gz")):
        image = nib.load(path)
        qform = image.affine.copy()
        if path.name.endswith("_t2.nii.gz"):
            qform[0, 3] += 10.0
        image.set_qform(qform, code=1 if path.name.endswith("_t2.nii.gz") else 0)
        image.set_sform(image.affine, code=2)
        nib.save(image, path)
    line = _one_error_line(_infer(tiny_run, study, tmp_path / "out", "--allow-skull"))
    assert line.startswith(f"medseg: error: {study / 'phantom_000_ras_t2.nii.gz'}: 3D Slicer places it 10.0 mm away")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_input_dot_is_the_folders_name(tiny_dataset, tiny_run, tmp_path, monkeypatch):
    study = _study(tiny_dataset, tmp_path, "phantom_006_oblique")
    monkeypatch.chdir(study)
    result = _infer(tiny_run, ".", tmp_path / "out", "--allow-skull")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "study_seg.nii.gz").is_file()


def test_warnings_name_the_users_series_not_the_cache(tiny_dataset, tiny_run, tmp_path):
    """An implausible mask (everything tumour) on a registered study: the warning names the user's T1ce."""
    import warnings

    import torch

    from medseg.errors import MedsegWarning
    from medseg.inference.predictor import Predictor
    from medseg.study import StudyOptions

    study = _study(tiny_dataset, tmp_path, "phantom_006_oblique")
    predictor = Predictor.from_bundle(tiny_run, device="cpu")
    conv = torch.nn.Conv3d(4, 3, kernel_size=1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.fill_(10.0)  # every voxel in every region
    predictor.network = conv.eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predictor.predict_to_dir([study], tmp_path / "out", progress=False, study=StudyOptions(allow_skull=True))
    messages = [str(w.message) for w in caught if issubclass(w.category, MedsegWarning)]
    implausible = [m for m in messages if "implausible segmentation" in m]
    assert implausible and implausible[0].startswith(f"{study / 'phantom_006_oblique_t1ce.nii.gz'}: ")
    assert not any("_on_t1ce" in m or ".cache" in m for m in messages), messages


def test_a_series_of_another_patient_is_refused_naming_both(tiny_dataset, tiny_run, tmp_path):
    """The DICOM study's FLAIR carries another PatientID and StudyInstanceUID: nothing is registered or written."""
    from pydicom.uid import generate_uid

    from tests.study_helpers import SERIES, write_dicom_series

    phantom = tiny_dataset.parent / "phantom_000_ras"
    study, frame = tmp_path / "PATIENT01", generate_uid()
    for number, (sequence, (description, agent, echo)) in enumerate(SERIES.items(), start=1):
        foreign = sequence == "flair"
        image = read_image(phantom / f"phantom_000_ras_{sequence}.nii.gz")
        write_dicom_series(image, study / f"{number:02d}_{sequence}", description, number,
                           "9.8.7" if foreign else "1.2.3", frame, agent, echo,
                           patient_id="OTHER" if foreign else "P01")
    line = _one_error_line(_infer(tiny_run, study, tmp_path / "out", "--allow-skull"))
    assert "flair (" in line and "tirm_tra_dark-fl_5mm" in line and "is from another patient than t1ce (" in line
    assert "AX T1 MPRAGE POST GD" in line and "PatientID 'OTHER' vs 'P01'" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
