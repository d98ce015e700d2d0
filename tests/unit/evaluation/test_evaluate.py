import nibabel as nib
import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import InputError
from medseg.evaluation import dice, evaluate_predictions, score_case


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


def test_surface_metrics_in_millimetres_and_empty_rules():
    from medseg.evaluation.metrics import structure_metrics

    truth = np.zeros((40, 40, 20), bool)
    truth[10:20, 10:20, 5:15] = True
    shifted = np.roll(truth, 3, axis=0)  # three voxels along x
    iso = structure_metrics(shifted, truth, spacing=(1.0, 1.0, 1.0), tolerance_mm=1.0)
    aniso = structure_metrics(shifted, truth, spacing=(2.0, 1.0, 1.0), tolerance_mm=1.0)
    assert iso["hd95_mm"] == pytest.approx(3.0) and aniso["hd95_mm"] == pytest.approx(6.0)
    assert iso["sensitivity"] == pytest.approx(0.7) and iso["precision"] == pytest.approx(0.7)
    assert 0 < iso["surface_dice"] < 1
    assert structure_metrics(truth, truth, (1, 1, 1))["surface_dice"] == 1.0
    empty = np.zeros_like(truth)
    assert structure_metrics(empty, empty, (1, 1, 1)) == {
        "dice": 1.0, "surface_dice": 1.0, "hd95_mm": 0.0, "sensitivity": 1.0, "precision": 1.0}
    missed = structure_metrics(empty, truth, (1, 1, 1))
    assert missed["dice"] == missed["surface_dice"] == missed["sensitivity"] == 0.0
    assert np.isnan(missed["hd95_mm"]) and np.isnan(missed["precision"])
    false_alarm = structure_metrics(truth, empty, (1, 1, 1))
    assert false_alarm["precision"] == 0.0 and np.isnan(false_alarm["sensitivity"])


def test_summary_has_mean_std_median_and_skips_undefined(tmp_path, schema):
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    for case, shift in (("a", 0), ("b", 2)):
        truth = np.zeros((16, 16, 8))
        truth[4:10, 4:10, 2:6] = 2
        _save(tmp_path / "truth" / f"{case}_seg.nii.gz", truth, affine)
        _save(tmp_path / "pred" / f"{case}_seg.nii.gz", np.roll(truth, shift, axis=1), affine)
    _save(tmp_path / "pred" / "a_probabilities.nii.gz", np.zeros((16, 16, 8, 3)), affine)  # not a prediction
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema)
    assert [row["case"] for row in result.rows] == ["a", "b"]
    wt = result.metric_summary()["WT"]
    assert wt["hd95_mm"]["median"] == pytest.approx(1.5) and wt["hd95_mm"]["mean"] == pytest.approx(1.5)
    assert wt["dice"]["mean"] == pytest.approx((1 + 4 / 6) / 2) and wt["dice"]["std"] == pytest.approx((1 - 4 / 6) / 2)
    necrotic = result.metric_summary()["necrotic tumour core"]  # absent from both: defined by the rules
    assert necrotic["hd95_mm"]["mean"] == 0.0 and necrotic["dice"]["n"] == 2
    assert "WT/hd95_mm" in result.to_csv().splitlines()[0]
    assert "Empty masks" in result.table()


def test_api_writes_the_csv_and_the_json_document(tmp_path, schema):
    """What ``medseg evaluate`` prints and writes comes from the API, so a Python caller gets the same."""
    import json

    from medseg.errors import OutputError
    from medseg.evaluation.metrics import EMPTY_RULES

    truth = np.zeros((6, 6, 6))
    truth[1:4, 1:4, 1:4] = 2
    _save(tmp_path / "truth" / "a_seg.nii.gz", truth)
    _save(tmp_path / "pred" / "a_seg.nii.gz", np.zeros((6, 6, 6)))  # nothing found: HD95 undefined
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema, tolerance_mm=1.5)
    document = json.loads(json.dumps(result.document()))  # plain JSON: NaN became null
    assert document["cases"] == 1 and document["surface_dice_tolerance_mm"] == 1.5
    assert document["empty_rules"] == EMPTY_RULES and document["per_case"][0]["case"] == "a"
    assert document["metrics"]["WT"]["hd95_mm"]["mean"] is None and document["summary"]["WT"]["mean"] == 0.0
    written = result.write_csv(tmp_path / "pred" / "evaluation.csv")
    assert written.read_bytes() == result.to_csv().encode()
    with pytest.raises(OutputError, match="refusing to overwrite"):
        result.write_csv(tmp_path / "truth" / "a_seg.nii.gz")


def test_cropped_metrics_equal_monai_on_the_whole_grid():
    """The bounding-box crop and the shared edge pass change no figure (anisotropic spacing, masks at the border)."""
    import torch
    from monai.metrics import compute_hausdorff_distance, compute_surface_dice

    from medseg.evaluation.metrics import structure_metrics, union_box

    rng = np.random.default_rng(0)
    grid = np.indices((40, 36, 30)).transpose(1, 2, 3, 0)
    truth = np.linalg.norm((grid - [12, 18, 10]) / [7, 9, 5], axis=-1) < 1
    pred = np.linalg.norm((grid - [14, 17, 11]) / [8, 8, 6], axis=-1) < 1
    pred |= rng.random(pred.shape) > 0.999  # scattered false positives far from the truth
    pred[0, 0, :4] = True  # and one touching the grid's border
    spacing = (0.8, 1.1, 2.5)
    ours = structure_metrics(pred, truth, spacing, tolerance_mm=2.0)
    y_pred, y = (torch.from_numpy(m.astype(np.float32))[None, None] for m in (pred, truth))
    hd95 = compute_hausdorff_distance(y_pred, y, include_background=True, percentile=95, spacing=list(spacing))
    nsd = compute_surface_dice(y_pred, y, [2.0], include_background=True, spacing=list(spacing))
    assert ours["hd95_mm"] == pytest.approx(float(hd95), abs=1e-6)
    assert ours["surface_dice"] == pytest.approx(float(nsd), abs=1e-6)
    assert union_box(pred, truth) == (slice(0, 40), slice(0, 36), slice(0, 30))  # the noise spans the grid
    assert union_box(truth) == (slice(5, 20), slice(9, 28), slice(5, 16))  # one voxel of margin around it
    assert union_box(pred[:1, :1]) == (slice(0, 1), slice(0, 1), slice(0, 5))  # clipped at the border


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


def _two_label_schema():
    from medseg.labels import LabelSchema

    return LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
        {"name": "cell", "value": 1, "color": [255, 0, 0]}, {"name": "vessel", "value": 2, "color": [0, 255, 0]}]}})


def test_png_predictions_pair_with_png_truths_by_case_id(tmp_path):
    from medseg.io.masks import MaskCoding

    truth = np.zeros((20, 30), np.uint8)
    truth[5:15, 5:15] = 1
    truth[2:4, 20:28] = 2
    pred = truth.copy()
    pred[5:15, 5:10] = 0  # half the cell missed
    _png(tmp_path / "pred" / "img7_seg.png", pred)
    _png(tmp_path / "pred" / "img7_overlay.png", np.full((20, 30), 200))  # not a label file: ignored
    _png(tmp_path / "truth" / "img7_mask.png", truth * 100)  # stored 100/200, the bundle's coding maps them
    coding = MaskCoding(values={100: 1, 200: 2})
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", _two_label_schema(), mask_coding=coding)
    row = result.rows[0]
    assert row["case"] == "img7"
    assert row["cell"] == pytest.approx(2 * 50 / (50 + 100)) and row["vessel"] == 1.0
    assert row["vessel/hd95_mm"] == 0.0 and row["cell/hd95_mm"] == pytest.approx(5.0)  # in pixels: no header
    assert result.units == "px" and "HD95 in px" in result.table()


def test_png_truth_at_half_size_is_resized_onto_a_nifti_prediction(tmp_path):
    truth = np.zeros((10, 16), np.uint8)
    truth[2:8, 4:12] = 255
    _png(tmp_path / "truth" / "c1.png", truth)
    full = np.kron(truth // 255, np.ones((2, 2), np.uint8))  # rows, cols at the image's size
    pred = nib.Nifti1Image(full.T[..., None], np.diag([-0.5, -0.5, 1, 1]))
    (tmp_path / "pred").mkdir()
    nib.save(pred, tmp_path / "pred" / "c1_seg.nii.gz")
    schema = _two_label_schema()
    from medseg.io.masks import MaskCoding

    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema,
                                  mask_coding=MaskCoding(threshold=128))
    assert result.rows[0]["cell"] == 1.0 and result.units == "mm"
    with pytest.raises(InputError, match=r"mask values \[255\] are not in the coding"):
        evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema, mask_coding=MaskCoding(values={1: 1}))


def test_png_truth_with_unknown_values_is_refused_naming_the_file(tmp_path):
    _png(tmp_path / "pred" / "a_seg.png", np.ones((4, 4)))
    _png(tmp_path / "truth" / "a.png", np.full((4, 4), 7))
    with pytest.raises(InputError, match=r"a\.png.*label values \[7\] are not in the schema"):
        evaluate_predictions(tmp_path / "pred", tmp_path / "truth", _two_label_schema())


def _membrane_task(tmp_path):
    """A `bundle new` task whose masks store the membrane as 0 (as isbi2012_em does) and perfect predictions."""
    from medseg.bundle.create import new_bundle

    rng = np.random.default_rng(0)
    for case in ("s1", "s2"):
        membrane = np.zeros((32, 32), bool)
        membrane[:, 10:12] = membrane[20:22, :] = True
        _png(tmp_path / "images" / f"{case}.png", rng.integers(0, 255, (32, 32)))
        _png(tmp_path / "masks" / f"{case}.png", np.where(membrane, 0, 255))
        _png(tmp_path / "pred" / f"{case}_seg.png", membrane.astype(np.uint8))  # label 1 = membrane
    new_bundle("em", tmp_path / "images", tmp_path / "masks", [("membrane", 0)], output=tmp_path / "em")
    return find_bundle(tmp_path / "em")


def test_python_callers_score_bundle_new_masks_through_the_bundles_coding(tmp_path):
    bundle = _membrane_task(tmp_path)
    by_bundle = evaluate_predictions(tmp_path / "pred", tmp_path / "masks", bundle)
    assert [row["membrane"] for row in by_bundle.rows] == [1.0, 1.0]
    by_manifest = evaluate_predictions(tmp_path / "pred", tmp_path / "em" / "dataset.json", bundle.schema)
    assert [row["membrane"] for row in by_manifest.rows] == [1.0, 1.0]  # the manifest's own coding
    with pytest.raises(InputError, match=r"label values \[255\] are not in the schema"):
        evaluate_predictions(tmp_path / "pred", tmp_path / "masks", bundle.schema)  # no coding: read as stored


def test_a_truth_of_another_size_is_the_file_blamed(tmp_path, schema):
    _save(tmp_path / "pred" / "c1_seg.nii.gz", np.zeros((4, 4, 4)))
    _save(tmp_path / "truth" / "c1_seg.nii.gz", np.zeros((4, 4, 5)))
    with pytest.raises(InputError, match=r"truth shape \(4, 4, 5\) differs from the prediction's \(4, 4, 4\)") as err:
        evaluate_predictions(tmp_path / "pred", tmp_path / "truth", schema)
    assert str(err.value).startswith(str(tmp_path / "truth" / "c1_seg.nii.gz"))
