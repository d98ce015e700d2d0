"""2D chains (grey/RGB/palette, resize inverted exactly) and class-balanced 3D crops for exclusive schemas."""

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Invertd
from PIL import Image

from medseg.labels import LabelSchema
from medseg.transforms.planar import inference_transforms, validation_transforms
from medseg.transforms.volume import _foreground_crop

SCHEMA = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
    {"name": "road", "value": 1, "color": [1, 2, 3]}, {"name": "car", "value": 2, "color": [3, 2, 1]}]}})


def test_rgb_and_grey_images_load_channel_first_and_invert_to_their_own_size(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (30, 50, 3), dtype=np.uint8)  # height 30, width 50
    Image.fromarray(rgb, "RGB").save(tmp_path / "rgb.png")
    Image.fromarray(rgb[..., 0], "L").save(tmp_path / "grey.png")
    for name, channels in (("rgb.png", 3), ("grey.png", 1)):
        chain = inference_transforms(channels, size=(32, 32))
        data = chain({"image": str(tmp_path / name)})
        assert data["image"].shape == (channels, 32, 32)
        torch.testing.assert_close(data["image"].mean(dim=(1, 2)), torch.zeros(channels), atol=1e-4, rtol=0)
        data["pred"] = MetaTensor(torch.ones(2, 32, 32), meta=dict(data["image"].meta))
        back = Invertd("pred", transform=chain, orig_keys="image")(data)["pred"]
        assert back.shape == (2, 50, 30)  # MONAI's PIL order: width, height


def test_palette_masks_keep_their_class_indices(tmp_path):
    mask = np.zeros((20, 20), np.uint8)
    mask[2:8, 2:8], mask[10:15, 10:15] = 1, 2
    palette = Image.fromarray(mask, "P")
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    palette.save(tmp_path / "m.png")
    Image.fromarray(np.full((20, 20, 3), 9, np.uint8), "RGB").save(tmp_path / "i.png")
    data = validation_transforms(SCHEMA, channels=3, size=(20, 20))({"image": str(tmp_path / "i.png"),
                                                                       "label": str(tmp_path / "m.png")})
    assert data["label"].shape == (3, 20, 20)
    np.testing.assert_array_equal(data["label"][2].numpy().T, mask == 2)


def test_exclusive_schemas_sample_patches_on_labels_not_on_one_hot_background():
    label = np.zeros((40, 40, 40))
    label[30:34, 30:34, 30:34] = 1
    target = MetaTensor(torch.from_numpy(SCHEMA.label_map_to_channels(label[None])))
    (crop,) = _foreground_crop(SCHEMA, ["image", "label"], [8, 8, 8], 60)
    crop.set_random_state(0)
    patches = crop({"image": MetaTensor(torch.rand(1, 40, 40, 40)), "label": target})
    with_road = sum(float(p["label"][1].sum() > 0) for p in patches)
    assert with_road >= 30  # a random crop would hit the 4³ road block in about 4 % of patches


@pytest.mark.parametrize("share, expected", [(None, 2 / 3), (1 / 3, 1 / 3)])
def test_foreground_share_sets_how_many_patches_are_centred_on_a_label(share, expected):
    """The quick recipe centres 2 patches in 3 on foreground; planned runs force a third, as nnU-Net does."""
    regions = LabelSchema.from_metadata({"medseg": {"mode": "overlapping", "labels": [
        {"name": "tumour", "value": 1, "color": [1, 2, 3]}], "channels": [{"name": "T", "values": [1], "paint": 1}]}})
    label = np.zeros((1, 40, 40, 40), np.float32)
    label[0, 30:34, 30:34, 30:34] = 1
    crops = _foreground_crop(regions, ["image", "label"], [8, 8, 8], 600, share)
    for crop in crops:
        if hasattr(crop, "set_random_state"):
            crop.set_random_state(0)
    data = {"image": MetaTensor(torch.rand(1, 40, 40, 40) + 0.1), "label": MetaTensor(torch.from_numpy(label))}
    for crop in crops:
        data = crop(data)
    with_tumour = np.mean([float(p["label"].sum() > 0) for p in data])
    assert abs(with_tumour - expected) < 0.06  # a random crop would hit the 4³ block in about 4 % of patches
