import nibabel as nib
import numpy as np
import pytest

from medseg.data.inputs import resolve_case
from medseg.errors import InputError
from medseg.io.checks import check_case_headers
from medseg.io.read import CaseFiles, case_id_from_path

MODALITIES = ["t1", "t1ce", "t2", "flair"]


def _write(path, shape=(6, 6, 5), affine=None):
    nib.save(nib.Nifti1Image(np.ones(shape, np.float32), np.eye(4) if affine is None else affine), path)
    return path


@pytest.fixture()
def case_dir(tmp_path):
    folder = tmp_path / "Brats_007"
    folder.mkdir()
    for modality in MODALITIES:
        _write(folder / f"Brats_007_{modality}.nii.gz")
    return folder


def test_case_folder_resolves_modalities_in_bundle_order(case_dir):
    case = resolve_case(case_dir, MODALITIES)
    assert case.case_id == "Brats_007"
    assert [p.name for p in case.images] == [f"Brats_007_{m}.nii.gz" for m in MODALITIES]
    assert check_case_headers(case, 4) == (6, 6, 5)


def test_missing_modality_lists_what_was_found(case_dir):
    (case_dir / "Brats_007_flair.nii.gz").unlink()
    with pytest.raises(InputError, match="no file for modality 'flair'"):
        resolve_case(case_dir, MODALITIES)


def test_case_ids():
    assert case_id_from_path("x/Brats18_2013_2_1_seg.nii.gz") == "Brats18_2013_2_1"
    assert case_id_from_path("x/p01_t1ce.nii.gz", MODALITIES) == "p01"
    assert case_id_from_path("x/volume.nii") == "volume"


def test_three_modalities_for_a_four_channel_bundle(case_dir):
    case = resolve_case(case_dir, MODALITIES)
    three = CaseFiles(case.case_id, case.images[:3])
    with pytest.raises(InputError, match="found 3 image channel"):
        check_case_headers(three, 4)


def test_modalities_on_different_grids(case_dir):
    _write(case_dir / "Brats_007_t2.nii.gz", shape=(6, 6, 4))
    with pytest.raises(InputError, match="Brats_007_t2.nii.gz: shape"):
        check_case_headers(resolve_case(case_dir, MODALITIES), 4)
    _write(case_dir / "Brats_007_t2.nii.gz", affine=np.diag([1, 1, 2, 1]))
    with pytest.raises(InputError, match="affine differs"):
        check_case_headers(resolve_case(case_dir, MODALITIES), 4)


def test_corrupt_and_fake_nifti(tmp_path, case_dir):
    flair = case_dir / "Brats_007_flair.nii.gz"
    flair.write_bytes(flair.read_bytes()[:40])
    with pytest.raises(InputError, match="not a readable NIfTI"):
        check_case_headers(resolve_case(case_dir, MODALITIES), 4)
    fake = tmp_path / "notes.nii"
    fake.write_text("this is not an image")
    with pytest.raises(InputError, match="notes.nii: not a readable NIfTI"):
        check_case_headers(resolve_case(fake, MODALITIES), 1)


def test_two_d_image_for_a_three_d_bundle(tmp_path):
    path = _write(tmp_path / "xray.nii.gz", shape=(30, 20, 1))
    with pytest.raises(InputError, match="is 2D"):
        check_case_headers(resolve_case(path, ["image"]), 1)


def test_4d_nifti_counts_its_channels(tmp_path):
    path = _write(tmp_path / "case.nii.gz", shape=(6, 6, 5, 4))
    assert check_case_headers(resolve_case(path, MODALITIES), 4) == (6, 6, 5)
