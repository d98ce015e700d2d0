"""Post-processing is chosen on validation cases: a rule is kept only when it raises the Dice."""

import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.inference.postprocessing import PostProcessing, relabel_small
from medseg.inference.postprocessing_search import candidate_rules, choose

SEARCH = {"structure": "ET", "min_voxels": [5, 50], "replace_with": [1, 0], "per": ["component", "total"]}


@pytest.fixture(scope="module")
def schema():
    return find_bundle("brain_tumor").schema


def _tumour() -> np.ndarray:
    label = np.zeros((30, 30, 30), np.uint8)
    label[5:25, 5:25, 5:25] = 2
    label[10:20, 10:20, 10:20] = 1
    label[12:18, 12:18, 12:18] = 4  # 216 voxels of enhancing tumour
    return label


def test_candidates_expand_the_search():
    rules = candidate_rules(SEARCH)
    assert len(rules) == 8
    assert {"structure": "ET", "min_voxels": 5, "replace_with": 1, "per": "component"} in rules


def test_small_enhancing_pieces_become_necrosis_when_that_helps(schema):
    truth = _tumour()
    pred = truth.copy()
    pred[7:9, 7:9, 7:9] = 4  # a spurious 8-voxel ET piece inside the core/oedema
    result = choose([(pred, truth)], schema, candidate_rules(SEARCH))
    assert result["chosen"]["min_voxels"] == 50 and result["chosen"]["per"] == "component"
    assert result["chosen"]["replace_with"] in (1, 0)
    assert max(c["dice"] for c in result["candidates"]) > result["baseline_dice"]


def test_no_rule_is_kept_when_none_helps(schema):
    truth = _tumour()
    result = choose([(truth.copy(), truth)], schema, candidate_rules(SEARCH))
    assert result["chosen"] is None and result["baseline_dice"] == 1.0


def test_total_rule_relabels_all_enhancing_tumour_below_the_size(schema):
    label = _tumour()
    assert (relabel_small(label, (4,), 500, 1, per="total") == 4).sum() == 0  # 216 < 500: all → necrosis
    assert (relabel_small(label, (4,), 100, 1, per="total") == 4).sum() == 216
    post = PostProcessing(small_components=[{"structure": "ET", "min_voxels": 500, "replace_with": 1,
                                             "per": "total"}])
    out = post.on_label(label, schema, 1.0)
    assert (out == 1).sum() == (label == 1).sum() + 216


def test_size_figures_count_volume_and_pieces_after_the_chosen_rule(schema):
    from medseg.inference.postprocessing_search import size_figures

    truth = _tumour()
    pred = truth.copy()
    pred[0:3, 0:3, 0:3] = 2  # a stray 27-voxel oedema piece: WT in two pieces, 27 voxels too large
    pred[7:9, 7:9, 7:9] = 4  # an 8-voxel ET piece that the rule below removes
    rule = {"structure": "ET", "min_voxels": 50, "replace_with": 1, "per": "component"}
    rows = {r["structure"]: r for r in size_figures([(pred, truth)], ["case1"], schema, rule)}
    wt = rows["WT"]
    assert wt["case"] == "case1" and wt["true_voxels"] == 20 ** 3 and wt["predicted_voxels"] == 20 ** 3 + 27
    assert wt["pieces"] == 2 and wt["true_pieces"] == 1
    assert wt["volume_ratio"] == pytest.approx((8000 + 27) / 8000, abs=1e-3)
    assert rows["ET"]["pieces"] == 1 and rows["ET"]["predicted_voxels"] == 216  # the rule was applied
