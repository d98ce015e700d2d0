"""The island rule ``bundle new`` declares: half the smallest true piece per structure, in the image's units."""

import numpy as np
from PIL import Image

from medseg.inference.postprocessing import PostProcessing
from medseg.labels import LabelSchema
from medseg.planning.pieces import smallest_pieces

SCHEMA = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
    {"name": "lung", "value": 1, "color": [1, 1, 1]}, {"name": "heart", "value": 2, "color": [2, 2, 2]}]}})


def _pair(folder, name, mask):
    folder.mkdir(exist_ok=True)
    image, path = folder / f"{name}.png", folder / f"{name}_mask.png"
    Image.fromarray((mask * 60).astype(np.uint8)).save(image)
    Image.fromarray(mask.astype(np.uint8)).save(path)
    return image, path


def test_rule_is_half_the_smallest_piece_per_structure_and_removes_a_small_island(tmp_path):
    first, second = np.zeros((40, 40), np.uint8), np.zeros((40, 40), np.uint8)
    first[2:12, 2:12] = 1  # lung pieces of 100 and 36 pixels
    first[20:26, 20:26] = 1
    second[5:25, 5:15] = 1  # 200
    second[30:38, 30:38] = 2  # heart: 64
    pairs = [_pair(tmp_path, "a", first), _pair(tmp_path, "b", second)]
    rule = smallest_pieces([p[0] for p in pairs], [p[1] for p in pairs], {"lung": 1, "heart": 2}, 2)
    assert rule == {"lung": 18.0, "heart": 32.0}  # px² (no pixel size stored)

    prediction = np.zeros((40, 40), np.uint8)
    prediction[2:12, 2:12] = 1
    prediction[30:34, 30:34] = 1  # a 16-pixel lung island: below 18
    prediction[20:26, 20:26] = 2  # a 36-pixel heart: kept
    cleaned = PostProcessing(min_piece=rule).on_label(prediction, SCHEMA, voxel_size=1.0)
    assert cleaned[30:34, 30:34].sum() == 0 and cleaned[2:12, 2:12].min() == 1
    assert (cleaned[20:26, 20:26] == 2).all()


def test_rule_is_in_mm2_when_the_image_has_a_pixel_size(tmp_path):
    import nibabel as nib

    mask = np.zeros((30, 30, 1), np.uint8)
    mask[5:15, 5:15] = 1
    affine = np.diag([0.5, 0.5, 1.0, 1.0])  # 0.25 mm² pixels
    nib.save(nib.Nifti1Image(mask.astype(np.float32), affine), tmp_path / "a.nii.gz")
    nib.save(nib.Nifti1Image(mask, affine), tmp_path / "a_mask.nii.gz")
    rule = smallest_pieces([tmp_path / "a.nii.gz"], [tmp_path / "a_mask.nii.gz"], {"lung": 1}, 2)
    assert rule == {"lung": 12.5}  # 100 px × 0.25 mm² / 2


def test_without_background_a_small_piece_takes_the_label_around_it():
    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "background": False, "labels": [
        {"name": "sky", "value": 0, "color": [1, 1, 1]}, {"name": "road", "value": 1, "color": [2, 2, 2]}]}})
    prediction = np.ones((20, 20), np.uint8)
    prediction[:8] = 0
    prediction[14:16, 5:7] = 0  # a 4-pixel speck of sky in the road
    cleaned = PostProcessing(min_piece={"sky": 10}).on_label(prediction, schema, voxel_size=1.0)
    assert (cleaned[8:] == 1).all() and (cleaned[:8] == 0).all()
