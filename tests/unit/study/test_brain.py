"""Brain-extracted or not: measured on real volumes (BraTS brains vs a real MPRAGE with the skull on)."""

import nibabel as nib
import numpy as np
import pytest

from medseg.errors import InputError
from medseg.io.dicom import series_to_nifti
from medseg.study.brain import check_sequence_voxels


@pytest.mark.real_data
def test_real_brats_sequences_pass(shared_data):
    for path in sorted((shared_data / "brats2018").glob("*/*_t1ce.nii.gz")):
        check_sequence_voxels(path, path.name)
    for path in sorted((shared_data / "brats2015_partial").glob("*/*_flair.nii.gz")):  # z-scored: background < 0
        check_sequence_voxels(path, path.name)


@pytest.mark.real_data
def test_real_mprage_with_the_skull_on_is_refused(shared_data, tmp_path):
    nifti = series_to_nifti(shared_data / "dicom" / "mr_t1_mprage_trio_b17", cache_dir=tmp_path)
    with pytest.raises(InputError) as err:
        check_sequence_voxels(nifti, "series 1.2.3 ('t1_MPRAGE')")
    assert "not brain-extracted" in str(err.value) and "--allow-skull" in str(err.value)
    assert str(err.value).startswith("series 1.2.3 ('t1_MPRAGE'): ")


def test_noisy_background_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    head = rng.normal(10, 3, (40, 40, 30)).astype(np.float32)
    nib.save(nib.Nifti1Image(head, np.diag([4.0, 4.0, 4.0, 1.0])), tmp_path / "head.nii.gz")
    with pytest.raises(InputError, match="not brain-extracted"):
        check_sequence_voxels(tmp_path / "head.nii.gz", "head")


def test_a_nan_voxel_is_named_not_taken_for_a_skull(tmp_path):
    """One NaN made the background test read 0 % (NaN never equals the minimum): the NaN is the problem."""
    brain = np.zeros((40, 40, 30), np.float32)
    brain[10:30, 10:30, 8:22] = 100.0
    brain[12, 13, 14] = np.nan
    nib.save(nib.Nifti1Image(brain, np.eye(4)), tmp_path / "t1ce.nii.gz")
    for allow_skull in (False, True):  # NaN is refused even where the brain check is waived
        with pytest.raises(InputError) as err:
            check_sequence_voxels(tmp_path / "t1ce.nii.gz", "series 1.2 ('T1 POST')", allow_skull)
        assert str(err.value) == ("series 1.2 ('T1 POST'): 1 NaN and 0 infinite voxel(s) (the first at voxel "
                                  "(12, 13, 14)); replace them (e.g. numpy.nan_to_num) before segmenting")
    brain[12, 13, 14] = 100.0
    nib.save(nib.Nifti1Image(brain, np.eye(4)), tmp_path / "t1ce.nii.gz")
    check_sequence_voxels(tmp_path / "t1ce.nii.gz", "t1ce")
