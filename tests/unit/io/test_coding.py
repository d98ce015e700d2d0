"""How masks code labels: each form users have is read into the right label values, and the coding is said."""

import numpy as np
import pytest
from PIL import Image

from medseg.errors import InputError
from medseg.io.coding import infer_coding, parse_labels, read_colour_table
from medseg.io.masks import MaskCoding, read_mask, read_stored
from tests.mask_helpers import save_image, shape_mask

ROAD, CAR = (128, 64, 128), (0, 0, 142)


def test_binary_0_255_is_thresholded_and_said(tmp_path):
    mask = (shape_mask() == 1).astype(np.uint8) * 255
    mask[3, 4] = 200  # a resized edge
    path = save_image(tmp_path / "m", "a.png", mask)
    found = infer_coding([path], [("lesion", None)])
    assert found.coding.threshold == 128 and not found.coding.inverted
    assert any("binary 8-bit" in line for line in found.lines)
    label = read_mask(path, found.coding)
    assert label.shape == (16, 12)  # (x, y): columns first, as MONAI's PILReader
    np.testing.assert_array_equal(label.T, (shape_mask() == 1).astype(int))


def test_structure_of_interest_is_zero(tmp_path):
    """ISBI 2012: 255 = cell interior, 0 = membrane; --labels membrane=0 segments the membranes."""
    mask = np.where(shape_mask() == 1, 0, 255).astype(np.uint8)
    path = save_image(tmp_path / "m", "a.png", mask)
    plain = infer_coding([path], [("membrane", None)])
    assert any("pass --labels membrane=0" in line for line in plain.lines)  # 255 covers most pixels: said
    found = infer_coding([path], parse_labels(["membrane=0"]))
    assert found.coding.values == {0: 1, 255: 0}
    np.testing.assert_array_equal(read_mask(path, found.coding).T, (shape_mask() == 1).astype(int))


def test_palette_png_keeps_its_indices(tmp_path):
    image = Image.fromarray(shape_mask(), "L").convert("P")
    image.putpalette([0, 0, 0, 250, 20, 20, 20, 250, 20] + [0] * (256 * 3 - 9))
    (tmp_path / "m").mkdir()
    image.save(tmp_path / "m" / "a.png")
    found = infer_coding([tmp_path / "m" / "a.png"], [("a", None), ("b", None)])
    assert found.coding == MaskCoding()  # indices 1, 2 are the labels
    np.testing.assert_array_equal(read_mask(tmp_path / "m" / "a.png").T, shape_mask())


def test_rgb_colour_codes_map_through_labels_or_a_colour_table(tmp_path):
    palette = np.array([(0, 0, 0), ROAD, CAR], np.uint8)
    path = save_image(tmp_path / "m", "a.png", palette[shape_mask()])
    with pytest.raises(InputError, match="RGB colour-coded"):
        infer_coding([path], [("road", None), ("car", None)])
    found = infer_coding([path], parse_labels(["car=0,0,142", "road=128,64,128"]))  # label 1 = car
    np.testing.assert_array_equal(read_mask(path, found.coding).T, np.array([0, 2, 1])[shape_mask()])
    table = tmp_path / "colours.txt"
    table.write_text("# name r g b\nroad 128 64 128\n2 car 0 0 142 255\n")
    assert read_colour_table(table) == [("road", ROAD), ("car", CAR)]
    with pytest.raises(InputError, match=r"colours \[\(0, 0, 142\)\] are not named"):
        infer_coding([path], [("road", ROAD)])
    assert MaskCoding.from_json(found.coding.to_json()) == found.coding


def test_grey_values_in_sorted_order_and_unmappable_values(tmp_path):
    path = save_image(tmp_path / "m", "a.png", (shape_mask() * 100).astype(np.uint8))
    found = infer_coding([path], [("a", None), ("b", None)])
    assert found.coding.values == {100: 1, 200: 2} and "100 → 1 (a)" in found.lines[-1]
    with pytest.raises(InputError, match="do not map onto 1 label"):
        infer_coding([path], [("a", None)])
    assert read_stored(path).shape == (16, 12)


def test_label_list_syntax():
    assert parse_labels(["road=128,64,128", "car=0,0,142"]) == [("road", ROAD), ("car", CAR)]
    assert parse_labels(["road,car,sidewalk"]) == [("road", None), ("car", None), ("sidewalk", None)]
    assert parse_labels(["road=128,64,128,car=0,0,142"]) == [("road", ROAD), ("car", CAR)]
    assert parse_labels(["membrane=0"]) == [("membrane", 0)]
    with pytest.raises(InputError):
        parse_labels(["road=1,2"])


def _road(tmp_path):
    """Index masks where every pixel is a class (0 = sky is one) or void (11)."""
    mask = shape_mask()  # 0 sky, 1 road, 2 car
    mask[0, :] = 11
    return save_image(tmp_path / "m", "a.png", mask)


def test_void_value_is_read_as_void_and_said(tmp_path):
    from medseg.labels import VOID

    path = _road(tmp_path)
    found = infer_coding([path], parse_labels(["sky=0", "road=1", "car=2"]), ignore=11)
    assert found.lines[0].startswith("void: 11 → not annotated (8.3 %")
    assert not found.background and found.values == [0, 1, 2]
    assert found.coding.values == {0: 0, 1: 1, 2: 2, 11: VOID}
    label = read_mask(path, found.coding).T
    expected = shape_mask().astype(int)
    expected[0, :] = VOID
    np.testing.assert_array_equal(label, expected)


def test_void_with_a_background_keeps_labels_1_to_n(tmp_path):
    from medseg.labels import VOID

    path = _road(tmp_path)
    found = infer_coding([path], [("road", None), ("car", None)], ignore=11)
    assert found.background and found.coding.values == {1: 1, 2: 2, 11: VOID}


def test_void_value_on_rgb_masks_is_refused(tmp_path):
    palette = np.array([(0, 0, 0), ROAD, CAR], np.uint8)
    path = save_image(tmp_path / "m", "a.png", palette[shape_mask()])
    with pytest.raises(InputError, match="--ignore takes a grey value"):
        infer_coding([path], parse_labels(["car=0,0,142", "road=128,64,128"]), ignore=11)
