"""The studies folder as the label server sees it: which studies, which file Slicer is shown, where labels go."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import InputError
from medseg.label.studies import Studies

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def _nifti(path, shape=(10, 10, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), AFFINE), path)
    return path


def _case(root, name, sequences=("t1", "t1ce", "t2", "flair")):
    for sequence in sequences:
        _nifti(root / name / f"{name}_{sequence}.nii.gz")
    return root / name


@pytest.fixture
def brain_tumor():
    return find_bundle("brain_tumor")


def test_case_folders_are_studies_shown_by_their_t1ce(tmp_path, brain_tumor):
    _case(tmp_path, "BraTS_002")
    _case(tmp_path, "BraTS_001")
    _nifti(tmp_path / "BraTS_001" / "BraTS_001_seg.nii.gz")  # ground truth beside the sequences: not shown
    found = Studies(tmp_path, brain_tumor).scan()
    assert list(found) == ["BraTS_001", "BraTS_002"]
    assert found["BraTS_001"].shown == (tmp_path / "BraTS_001" / "BraTS_001_t1ce.nii.gz").resolve()
    assert found["BraTS_001"].path == (tmp_path / "BraTS_001").resolve()


def test_without_t1ce_the_first_sequence_present_is_shown(tmp_path, brain_tumor):
    _case(tmp_path, "c1", sequences=("t2", "flair"))
    assert Studies(tmp_path, brain_tumor).scan()["c1"].shown.name == "c1_t2.nii.gz"


def test_nifti_images_are_studies_and_other_entries_are_not(tmp_path, brain_tumor):
    _nifti(tmp_path / "img7.nii.gz", (10, 10, 10, 4))
    _nifti(tmp_path / "labels" / "final" / "img7.nii.gz")  # the server's own corrected labels
    _nifti(tmp_path / ".medseg-label" / "x_t1.nii.gz")  # its workspace
    (tmp_path / "notes").mkdir()  # a folder with no sequence file
    (tmp_path / "dataset.json").write_text("{}")
    found = Studies(tmp_path, brain_tumor).scan()
    assert list(found) == ["img7"] and found["img7"].shown == (tmp_path / "img7.nii.gz").resolve()


def test_case_reads_the_study_as_medseg_infer_does(tmp_path, brain_tumor):
    _case(tmp_path, "c1", sequences=("t1ce", "flair"))  # the bundle may do without t1 and t2
    studies = Studies(tmp_path, brain_tumor)
    case = studies.case(studies.get("c1"))
    assert [p.name for p in case.images] == ["c1_t1ce.nii.gz", "c1_flair.nii.gz"]
    assert case.missing == ("t1", "t2")


def test_labels_go_beside_the_studies_in_monai_labels_layout(tmp_path, brain_tumor):
    studies = Studies(tmp_path, brain_tumor)
    assert studies.label_path("c1") == tmp_path.resolve() / "labels" / "final" / "c1.nii.gz"
    assert studies.workspace == tmp_path.resolve() / ".medseg-label"


def test_two_studies_with_one_id_and_unknown_ids_are_refused(tmp_path, brain_tumor):
    _case(tmp_path, "c1")
    studies = Studies(tmp_path, brain_tumor)
    with pytest.raises(InputError, match="no study 'c2'"):
        studies.get("c2")
    _nifti(tmp_path / "c1.nii.gz")
    with pytest.raises(InputError, match="two cases have the id 'c1'"):
        studies.scan()


def test_a_missing_folder_is_refused(tmp_path, brain_tumor):
    with pytest.raises(InputError, match="studies folder not found"):
        Studies(tmp_path / "absent", brain_tumor)
