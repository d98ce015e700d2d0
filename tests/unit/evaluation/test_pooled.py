"""Pooled IoU and Dice: intersections and unions summed over cases, void left out, checked by hand."""

import json

import numpy as np
import pytest
from PIL import Image

from medseg.evaluation import evaluate_predictions
from medseg.labels import VOID, LabelSchema

ROAD = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "background": False, "void": VOID, "labels": [
    {"name": "sky", "value": 0, "color": [1, 1, 1]}, {"name": "road", "value": 1, "color": [2, 2, 2]},
    {"name": "car", "value": 2, "color": [3, 3, 3]}]}})


def _png(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.array(rows, np.uint8)).save(path)


def test_pooled_iou_and_dice_sum_over_cases_and_leave_void_out(tmp_path):
    from medseg.io.masks import MaskCoding

    # case a (truth | prediction), 1 row of 6 pixels; 11 = void in the stored truth
    _png(tmp_path / "truth" / "a.png", [[0, 0, 1, 1, 1, 11]])
    _png(tmp_path / "pred" / "a_seg.png", [[0, 1, 1, 1, 2, 0]])
    # case b: sky only in the prediction's void pixels, a car everywhere else
    _png(tmp_path / "truth" / "b.png", [[2, 2, 2, 2, 11, 11]])
    _png(tmp_path / "pred" / "b_seg.png", [[2, 2, 2, 1, 0, 0]])
    coding = MaskCoding(values={0: 0, 1: 1, 2: 2, 11: VOID})
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", ROAD, mask_coding=coding)
    pooled = result.pooled()
    # by hand, void pixels dropped from both sides:
    # sky:  a: pred {0}, truth {0,1} → I 1, P 1, T 2; b: nothing              → IoU 1/2, Dice 2/3
    # road: a: pred {1,2,3}, truth {2,3,4} → I 2, P 3, T 3; b: pred {3}       → I 2, P 4, T 3: IoU 2/5, Dice 4/7
    # car:  a: pred {4}, T 0; b: pred {0,1,2}, truth {0,1,2,3} → I 3, P 4, T 4: IoU 3/5, Dice 6/8
    assert pooled["iou"] == pytest.approx({"sky": 1 / 2, "road": 2 / 5, "car": 3 / 5})
    assert pooled["dice"] == pytest.approx({"sky": 2 / 3, "road": 4 / 7, "car": 6 / 8})
    assert pooled["miou"] == pytest.approx((1 / 2 + 2 / 5 + 3 / 5) / 3)
    document = json.loads(json.dumps(result.document()))
    assert document["pooled"]["miou"] == pytest.approx(0.5)
    table = result.table()
    assert "pooled over all 2 cases" in table and "mean IoU" in table and "0.500" in table
    # per case, the void pixels count for nobody either: case a's sky Dice is 2·1/(1+2)
    assert result.rows[0]["sky"] == pytest.approx(2 / 3)


def test_a_class_in_no_case_is_undefined_and_out_of_the_mean(tmp_path):
    from medseg.io.masks import MaskCoding

    _png(tmp_path / "truth" / "a.png", [[0, 0, 1, 1]])
    _png(tmp_path / "pred" / "a_seg.png", [[0, 0, 1, 1]])
    result = evaluate_predictions(tmp_path / "pred", tmp_path / "truth", ROAD,
                                  mask_coding=MaskCoding(values={0: 0, 1: 1, 2: 2}))
    pooled = result.pooled()
    assert np.isnan(pooled["iou"]["car"]) and pooled["miou"] == 1.0
    assert json.loads(json.dumps(result.document()))["pooled"]["iou"]["car"] is None
