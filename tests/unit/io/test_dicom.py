"""DICOM series in: exact geometry on real CT, clear errors for broken series, a warning for partial ones."""

import shutil
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest

from medseg.data.inputs import resolve_case
from medseg.errors import InputError, MedsegWarning
from medseg.io.dicom import list_series, read_series, series_to_nifti


@pytest.fixture(scope="module")
def ct(shared_data):
    return shared_data / "dicom" / "ct_totalseg_example"


def _copy(ct, tmp_path, skip=()):
    folder = tmp_path / "series"
    folder.mkdir()
    files = sorted((ct / "series").glob("*.dcm"), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    for i, path in enumerate(files):
        if i not in skip:
            shutil.copy(path, folder / path.name)
    return folder, files


@pytest.mark.real_data
def test_ct_series_matches_the_companion_nifti_grid(ct):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MedsegWarning)  # the 20 slices are an excerpt of a longer series
        image = read_series(ct / "series")
    companion = nib.load(ct / "example_seg_dicom_MODEL_PREDICTION.nii.gz")
    assert image.shape == companion.shape == (512, 512, 20)
    np.testing.assert_allclose(image.affine, companion.affine, atol=1e-4)
    np.testing.assert_allclose(image.get_qform(), image.get_sform())
    # The voxels line up too: the companion's organ labels sit on soft tissue, not on air.
    hu, labels = np.asarray(image.dataobj), np.asarray(companion.dataobj)
    assert hu[labels > 0].mean() > 0 > -500 > hu[labels == 0].mean()


@pytest.mark.real_data
def test_partial_mprage_series_reads_with_an_explicit_warning(shared_data):
    with pytest.warns(MedsegWarning, match=r"partial: instance numbers 65–112 for 48 files"):
        image = read_series(shared_data / "dicom" / "mr_t1_mprage_trio_b17")
    assert image.shape == (256, 256, 48)
    np.testing.assert_allclose(np.linalg.norm(image.affine[:3, :3], axis=0), [1, 1, 1], atol=1e-3)


@pytest.mark.real_data
def test_missing_slice_in_the_middle_is_refused(ct, tmp_path):
    folder, files = _copy(ct, tmp_path, skip=(7,))
    with pytest.raises(InputError, match=r"about 1 slice\(s\) missing: gap of 4.000 mm between"):
        read_series(folder)


@pytest.mark.real_data
def test_uneven_spacing_and_duplicate_slices_are_refused(ct, tmp_path):
    folder, files = _copy(ct, tmp_path)
    moved = pydicom.dcmread(folder / files[5].name)
    moved.ImagePositionPatient[2] = float(moved.ImagePositionPatient[2]) + 0.7
    moved.save_as(folder / files[5].name)
    with pytest.raises(InputError, match="uneven slice spacing"):
        read_series(folder)
    shutil.copy(ct / "series" / files[9].name, folder / "copy.dcm")
    with pytest.raises(InputError, match="two slices at the same position"):
        read_series(folder)


@pytest.mark.real_data
def test_several_series_are_listed_and_one_is_picked_by_uid(ct, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    folder, files = _copy(ct, tmp_path)
    for i, path in enumerate(files):
        ds = pydicom.dcmread(folder / path.name)
        ds.SeriesInstanceUID = "1.2.3.1" if i < 10 else "1.2.3.2"
        ds.save_as(folder / path.name)
    assert [(s.uid, len(s.files)) for s in list_series(folder)] == [("1.2.3.1", 10), ("1.2.3.2", 10)]
    with pytest.raises(InputError, match=r"2 series in the folder, pick one with --series UID: 1\.2\.3\.1 \(CT"):
        read_series(folder)
    with pytest.raises(InputError, match="no series 9.9"):
        read_series(folder, "9.9")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MedsegWarning)
        case = resolve_case(folder, ["image"], series="1.2.3.2")
        assert nib.load(case.images[0]).shape == (512, 512, 10)
        again = series_to_nifti(folder, "1.2.3.2")  # cached: same file, not rewritten
    assert again == case.images[0] and again.is_relative_to(tmp_path / "cache")


@pytest.mark.real_data
def test_cli_names_the_partial_series_in_one_warning_line(shared_data, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from medseg.cli import main

    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    manifest = tmp_path / "m.json"
    manifest.write_text('{"test": [{"id": "mprage", "image": "mr_t1_mprage_trio_b17"}], '
                        f'"data_root": "{shared_data / "dicom"}"}}')
    result = CliRunner().invoke(main, ["data", "check", str(manifest), "--bundle", "brain_tumor"])
    lines = result.output.splitlines()
    assert any(line.startswith("medseg: warning:") and "series looks partial" in line for line in lines)
    assert "mprage: " in result.output and "found 1 image channel(s), the bundle needs 4" in result.output
    assert result.exit_code == 1


def _rewrite(path, change) -> None:
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)


@pytest.mark.real_data
def test_a_gantry_tilted_series_is_refused_before_any_output(ct, tmp_path, monkeypatch):
    """The real CT, its slices stepped sideways as a 15-degree gantry tilt stores them: refused, naming the folder."""
    monkeypatch.setenv("MEDSEG_CACHE", str(tmp_path / "cache"))
    folder, files = _copy(ct, tmp_path)
    z0 = float(pydicom.dcmread(folder / files[0].name).ImagePositionPatient[2])

    def tilt(ds):
        ds.ImagePositionPatient[1] = float(ds.ImagePositionPatient[1]) + np.tan(np.radians(15)) * (
            float(ds.ImagePositionPatient[2]) - z0)

    for path in files:
        _rewrite(folder / path.name, tilt)
    with pytest.raises(InputError, match=r"series: slices step sideways .*gantry tilt of about 15.0 degrees"):
        resolve_case(folder, ["image"])
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.nii.gz"))


@pytest.mark.real_data
def test_slices_of_differing_pixel_spacing_are_refused(ct, tmp_path):
    folder, files = _copy(ct, tmp_path)
    _rewrite(folder / files[4].name, lambda ds: setattr(ds, "PixelSpacing", [0.9, 0.9]))
    with pytest.raises(InputError, match=rf"pixel spacing differs between slices \(.*0.9 x 0.9 mm in {files[4].name}"):
        read_series(folder)
