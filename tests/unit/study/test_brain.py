"""Brain-extracted or not: measured on real volumes (BraTS brains vs a real MPRAGE with the skull on)."""

import nibabel as nib
import numpy as np
import pytest

from medseg.errors import InputError
from medseg.io.dicom import series_to_nifti
from medseg.study.brain import check_brain_extracted


@pytest.mark.real_data
def test_real_brats_sequences_pass(shared_data):
    for path in sorted((shared_data / "brats2018").glob("*/*_t1ce.nii.gz")):
        check_brain_extracted(path, path.name)
    for path in sorted((shared_data / "brats2015_partial").glob("*/*_flair.nii.gz")):  # z-scored: background < 0
        check_brain_extracted(path, path.name)


@pytest.mark.real_data
def test_real_mprage_with_the_skull_on_is_refused(shared_data, tmp_path):
    nifti = series_to_nifti(shared_data / "dicom" / "mr_t1_mprage_trio_b17", cache_dir=tmp_path)
    with pytest.raises(InputError) as err:
        check_brain_extracted(nifti, "series 1.2.3 ('t1_MPRAGE')")
    assert "not brain-extracted" in str(err.value) and "--allow-skull" in str(err.value)
    assert str(err.value).startswith("series 1.2.3 ('t1_MPRAGE'): ")


def test_noisy_background_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    head = rng.normal(10, 3, (40, 40, 30)).astype(np.float32)
    nib.save(nib.Nifti1Image(head, np.diag([4.0, 4.0, 4.0, 1.0])), tmp_path / "head.nii.gz")
    with pytest.raises(InputError, match="not brain-extracted"):
        check_brain_extracted(tmp_path / "head.nii.gz", "head")
