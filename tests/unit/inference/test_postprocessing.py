"""Post-processing: nested BraTS regions, one connected piece or the pieces near the largest's size, islands below a
size in mm³."""

import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import BundleError
from medseg.inference.postprocessing import LargestComponents, PostProcessing, enforce_region_hierarchy


@pytest.fixture()
def schema():
    return find_bundle("brain_tumor").schema


def test_region_hierarchy_nests_et_in_tc_in_wt(schema):
    # channels WT, TC, ET at four voxels; voxel 1 has ET without TC, voxel 2 TC without WT
    p = np.array([[0.9, 0.9, 0.2, 0.1], [0.8, 0.3, 0.7, 0.1], [0.7, 0.8, 0.9, 0.6]], np.float32)
    fixed = enforce_region_hierarchy(p, schema)
    np.testing.assert_allclose(fixed, [[0.9, 0.9, 0.2, 0.1], [0.8, 0.3, 0.2, 0.1], [0.7, 0.3, 0.2, 0.1]])
    masks = fixed > 0.5
    assert np.all(masks[2] <= masks[1]) and np.all(masks[1] <= masks[0])
    assert schema.channels_to_label_map(masks[:, :, None, None]).ravel().tolist() == [4, 2, 0, 0]


def test_largest_component_of_a_region_and_islands_in_mm3(schema):
    label = np.zeros((20, 20, 20), np.uint8)
    label[2:10, 2:10, 2:10] = 2  # 512 voxels of oedema
    label[4:6, 4:6, 4:6] = 4  # enhancing inside it
    label[15:17, 15:17, 15:17] = 1  # a separate 8-voxel piece of tumour core
    label[0, 19, 0] = 2  # a 1-voxel island of oedema
    whole = PostProcessing(largest_component=["WT"]).on_label(label, schema, voxel_size=1.0)
    assert whole[15, 15, 15] == 0 and whole[0, 19, 0] == 0 and whole[5, 5, 5] == 4 and (whole == 2).sum() == 504

    # voxels of 2 × 2 × 2 mm = 8 mm³: the 8-voxel piece is 64 mm³, the single voxel 8 mm³
    islands = PostProcessing(min_island_mm3=10).on_label(label, schema, voxel_size=8.0)
    assert islands[0, 19, 0] == 0 and islands[15, 15, 15] == 1
    islands = PostProcessing(min_island_mm3=65).on_label(label, schema, voxel_size=8.0)
    assert islands[15, 15, 15] == 0 and islands[5, 5, 5] == 4 and (islands == 2).sum() == 504


def test_pieces_below_a_share_of_the_largest_go_and_a_second_large_piece_stays(schema):
    label = np.zeros((30, 30, 30), np.uint8)
    label[2:10, 2:10, 2:10] = 2  # 512 voxels: the largest piece
    label[4:6, 4:6, 4:6] = 4
    label[15:22, 15:22, 15:22] = 1  # 343 voxels (0.67 of the largest): a second focus, kept
    label[25:27, 25:27, 25:27] = 2  # 8 voxels (0.016): removed
    kept = PostProcessing(min_share_of_largest={"WT": 0.1}).on_label(label, schema, voxel_size=1.0)
    assert (kept == 1).sum() == 343 and kept[26, 26, 26] == 0 and kept[5, 5, 5] == 4 and (kept == 2).sum() == 504
    only_largest = PostProcessing(min_share_of_largest={"WT": 1.0}).on_label(label, schema, voxel_size=1.0)
    np.testing.assert_array_equal(only_largest, PostProcessing(largest_component=["WT"]).on_label(label, schema, 1.0))
    with pytest.raises(BundleError, match="min_share_of_largest of 'WT' must be in"):
        PostProcessing(min_share_of_largest={"WT": 0})


def test_unknown_structure_is_a_bundle_error(schema):
    with pytest.raises(BundleError, match="unknown structure 'lung'"):
        PostProcessing(largest_component=["lung"]).on_label(np.zeros((4, 4, 4), np.uint8), schema, 1.0)


def test_largest_components_drops_islands_and_fills_holes():
    masks = np.zeros((2, 20, 20), dtype=bool)
    masks[0, 2:12, 2:12] = True
    masks[0, 6, 6] = False  # a hole
    masks[0, 16:18, 16:18] = True  # an island
    out = LargestComponents()(masks)
    assert out[0, 6, 6] and not out[0, 16:18, 16:18].any() and out[0].sum() == 100
    assert not out[1].any()


def test_rules_on_overlapping_masks_treat_each_structure_as_its_own():
    """Chest X-ray structures overlap; the rules work on their masks (a label map would hide the lung)."""
    schema = find_bundle("chest_xray").schema  # channels: right_lung, left_lung, heart, right_clavicle, ...
    masks = np.zeros((5, 30, 30), bool)
    masks[0, 2:20, 2:14] = True  # right lung
    masks[3, 2:5, 2:14] = True  # right clavicle over it
    masks[3, 25:27, 25:27] = True  # a 4-pixel clavicle island, apart from everything
    masks[0, 25:26, 2:3] = True  # a 1-pixel lung island
    whole = PostProcessing(largest_component=["right clavicle"]).on_masks(masks, schema, 1.0)  # a label's name
    assert not whole[3, 25:27, 25:27].any() and whole[3, 2:5, 2:14].all() and whole[0, 25, 2]
    np.testing.assert_array_equal(whole[0], masks[0])  # the lung under the clavicle is untouched
    shares = PostProcessing(min_share_of_largest={"right clavicle": 0.2}).on_masks(masks, schema, 1.0)  # 4 < 0.2 × 36
    np.testing.assert_array_equal(shares, whole)

    islands = PostProcessing(min_island_mm3=2.0).on_masks(masks, schema, 0.25)  # 0.25 mm² pixels: 8 px
    assert not islands[:, 25:27, 25:27].any() and not islands[0, 25, 2]
    np.testing.assert_array_equal(islands[0, :20], masks[0, :20])
    np.testing.assert_array_equal(islands[3, :20], masks[3, :20])

    moved = PostProcessing(small_components=[{"structure": "right_clavicle", "min_voxels": 10, "replace_with": 3}]
                           ).on_masks(masks, schema, 1.0)  # small clavicle pieces become heart (label 3)
    assert not moved[3, 25:27, 25:27].any() and moved[2, 25:27, 25:27].all() and moved[3, 2:5, 2:14].all()
    with pytest.raises(BundleError, match="replace_with 9 is not a structure's label"):
        PostProcessing(small_components=[{"structure": "heart", "min_voxels": 10, "replace_with": 9}]
                       ).on_masks(masks, schema, 1.0)
    with pytest.raises(BundleError, match="unknown structure 'WT'"):
        PostProcessing(largest_component=["WT"]).on_masks(masks, schema, 1.0)
