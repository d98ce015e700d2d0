import nibabel as nib
import numpy as np
import pytest

from medseg.bundles import find_bundle
from medseg.errors import InputError
from medseg.evaluate import dice, evaluate_predictions, score_case


@pytest.fixture()
def schema():
    return find_bundle("brain_tumor").schema


def test_dice_conventions():
    empty = np.zeros(4, bool)
    full = np.ones(4, bool)
    assert dice(empty, empty) == 1.0
    assert dice(full, empty) == 0.0
    assert dice(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool)) == pytest.approx(2 / 3)


def test_brats_regions(schema):
    truth = np.array([0, 1, 2, 4, 4])
    pred = np.array([0, 4, 2, 4, 0])
    scores = score_case(pred, truth, schema)
    assert scores["WT"] == pytest.approx(2 * 3 / (3 + 4))
    assert scores["TC"] == pytest.approx(2 * 2 / (2 + 3))
    assert scores["ET"] == pytest.approx(2 * 1 / (2 + 2))
    assert scores["necrotic tumour core"] == 0.0


def _save(path, data, affine=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data, np.uint8), np.eye(4) if affine is None else affine), path)


def test_pairs_by_case_id_and_flags_unpaired(tmp_path, schema):
    label = np.zeros((4, 4, 4))
    label[1:3, 1:3, 1:3] = 2
    _save(tmp_path / "truth" / "a" / "a_seg.nii.gz", label)
    _save(tmp_path / "pred" / "a_seg.nii.gz", label)
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema)
    assert result.rows[0]["case"] == "a" and result.rows[0]["WT"] == 1.0
    assert "WT" in result.table() and "a," in result.to_csv()
    _save(tmp_path / "pred" / "b_seg.nii.gz", label)
    with pytest.raises(InputError, match=r"no ground truth for predicted case\(s\) \['b'\]"):
        evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema)


def test_prediction_on_another_grid_is_an_error(tmp_path, schema):
    _save(tmp_path / "truth" / "a_seg.nii.gz", np.zeros((4, 4, 4)))
    _save(tmp_path / "pred" / "a_seg.nii.gz", np.zeros((4, 4, 4)), np.diag([-1, -1, 1, 1]))
    with pytest.raises(InputError, match="affine differs"):
        evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema)


def test_unknown_label_value_in_prediction(tmp_path, schema):
    _save(tmp_path / "truth" / "a_seg.nii.gz", np.zeros((4, 4, 4)))
    _save(tmp_path / "pred" / "a_seg.nii.gz", np.full((4, 4, 4), 3))
    with pytest.raises(InputError, match=r"a_seg.nii.gz: label values \[3\]"):
        evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema)
