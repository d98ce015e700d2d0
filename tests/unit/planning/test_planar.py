"""The 2D planning rules: resolution, patches, batch, normalisation and augmentation from the fingerprint."""

import numpy as np
import pytest
import torch
from PIL import Image

from medseg.io.masks import MaskCoding
from medseg.planning.planar import Fingerprint2D, fingerprint, has_handedness, plan_2d
from medseg.transforms.planar import normalise


def _fp(size=(512, 512), channels=1, bits=8, edge=0.05, n=30):
    return Fingerprint2D(n, size, channels, bits, (1.0, 1.0), 0.2, edge)


def test_handedness_comes_from_the_label_names():
    assert has_handedness(["right lung", "left lung", "heart"])
    assert has_handedness(["right_clavicle"]) and has_handedness(["kidney_L"])
    assert not has_handedness(["lung"]) and not has_handedness(["membrane", "cell"])


def test_large_images_train_on_native_patches_with_a_sliding_window():
    plan = plan_2d(_fp((565, 584), channels=3, edge=0.5), ["vessel"])
    assert plan.resize is None and plan.spacing == (1.0, 1.0)
    assert plan.patch_size == [256, 256] and plan.batch_size * 256 * 256 <= 2**17
    assert plan.image_type == "rgb" and plan.colour_jitter and plan.elastic
    assert plan.flip_axes == [0]  # a photograph stays upright: left-right flips only


def test_small_images_train_whole_and_resize_is_kept_on_request():
    assert plan_2d(_fp((48, 64)), ["x"]).patch_size == [48, 64]
    assert plan_2d(_fp(), ["x"], resize=256).resize == [256, 256]


def test_scene_photographs_train_whole_at_half_resolution():
    """480×360 road scenes: the whole frame at 240×180 in one patch (padded to a multiple of 16)."""
    plan = plan_2d(_fp((480, 360), channels=3, edge=0.02), ["sky", "road", "car"])
    assert plan.scene and plan.resize == [240, 180] and plan.patch_size == [240, 192]
    assert "resized to 240×180 (1/2 resolution" in plan.lines()[1]
    thin = plan_2d(_fp((565, 584), channels=3, edge=0.5), ["vessel"])  # thin structures keep every pixel
    grey = plan_2d(_fp((480, 360)), ["x"])  # not a photograph
    small = plan_2d(_fp((240, 180), channels=3), ["x"])  # already one patch
    asked = plan_2d(_fp((480, 360), channels=3), ["x"], resize=320)  # the user's size wins
    for plan in (thin, grey, small, asked):
        assert not plan.scene
    assert thin.resize is None and grey.resize is None and small.resize is None and asked.resize == [320, 320]


def test_augmentation_follows_handedness_and_thinness():
    lungs = plan_2d(_fp(), ["right lung", "left lung"])
    assert lungs.flip_axes == [] and lungs.handed and np.rad2deg(lungs.rotate) == pytest.approx(15)
    membranes = plan_2d(_fp(edge=0.3), ["membrane"])  # thin, grey, no side: micrographs have no "up"
    assert membranes.flip_axes == [0, 1] and membranes.elastic and np.rad2deg(membranes.rotate) == pytest.approx(180)
    assert not membranes.colour_jitter


def test_validation_is_capped_for_large_datasets():
    assert plan_2d(_fp(n=30), ["x"]).validation_fraction == pytest.approx(0.2)
    assert plan_2d(_fp(n=200), ["x"]).validation_fraction == pytest.approx(8 / 200)


def test_fingerprint_reads_sizes_bits_and_thinness(tmp_path):
    lines = np.zeros((40, 60), np.uint8)
    lines[::8] = 255
    blob = np.zeros((40, 60), np.uint8)
    blob[5:35, 10:50] = 255
    for name, mask in (("lines", lines), ("blob", blob)):
        Image.fromarray(np.full((40, 60), 1000, np.uint16)).save(tmp_path / f"{name}_img.png")
        Image.fromarray(mask).save(tmp_path / f"{name}.png")
    coding = MaskCoding(threshold=128)
    thin = fingerprint([tmp_path / "lines_img.png"], [tmp_path / "lines.png"], coding)
    thick = fingerprint([tmp_path / "blob_img.png"], [tmp_path / "blob.png"], coding)
    assert thin.median_size == (60, 40) and thin.bits == 16 and thin.edge_share == 1.0
    assert thick.edge_share < 0.2
    assert plan_2d(thin, ["x"]).image_type == "grey16"


def test_sixteen_bit_grey_is_clipped_before_the_z_score():
    from monai.transforms import Compose

    image = torch.ones(1, 50, 50) * 1000.0
    image[0, 0, 0] = 65535.0  # one hot pixel must not squash the rest
    image[0, 1:25] = 3000.0
    out = Compose(normalise("grey16"))({"image": image})["image"]
    assert float(out.max()) < 2.0 and abs(float(out.mean())) < 1e-4
