"""The 2D chain on radiographs: per-structure masks as overlapping channels, no left-right flip, old names kept."""

import numpy as np
import pytest
import torch

from medseg.data.manifest import case_to_dict, load_manifest
from medseg.errors import InputError, find_medseg_error
from medseg.labels import LabelSchema
from medseg.transforms import planar, xray
from tests.xray_helpers import import_xray, write_structure_folder

SCHEMA = LabelSchema.from_bundle("bundles/chest_xray")


@pytest.fixture
def item(tmp_path):
    root = write_structure_folder(tmp_path / "scr", 1, size=(96, 80))
    return case_to_dict(load_manifest(import_xray(root, tmp_path / "m.json")).cases("training")[0])


def test_validation_chain_stacks_half_size_masks_as_overlapping_channels(item):
    data = planar.validation_transforms(SCHEMA, 1, (64, 64), "radiograph")(item)
    assert tuple(data["image"].shape) == (1, 64, 64) and tuple(data["label"].shape) == (5, 64, 64)
    assert set(np.unique(data["label"].numpy())) == {0.0, 1.0}
    label = data["label"].numpy()
    assert (label[0] * label[3]).sum() > 0  # clavicle overlaps the lung: both channels keep it
    right, left = label[0].nonzero()[0].mean(), label[1].nonzero()[0].mean()
    assert right < left  # patient's right lung on the image's left (axis 0 = x)


def test_overlapping_targets_are_area_averaged_then_halved():
    """Downsizing by 4: a stripe covering half of two blocks marks both (area ≥ 1/2), a quarter marks none."""
    from monai.data import MetaTensor

    target = np.zeros((5, 16, 16), np.float32)
    target[0, 6:10] = 1  # half of block 1 (columns 4-7), half of block 2 (8-11)
    target[1, 4:7] = 1  # 3 of block 1's 4 columns
    target[2, 8] = 1  # a quarter of block 2
    out = planar.ResizeTargetd("label", (4, 4), SCHEMA)({"label": MetaTensor(torch.from_numpy(target))})["label"]
    assert out[0].sum(dim=1).tolist() == [0, 4, 4, 0] and out[1].sum(dim=1).tolist() == [0, 4, 0, 0]
    assert not out[2].any()


def test_a_case_without_one_mask_per_structure_is_refused_by_name(item):
    item["label"] = item["label"][:1]
    with pytest.raises(Exception) as raised:  # MONAI wraps it; the CLI unwraps it the same way
        planar.validation_transforms(SCHEMA, 1, (64, 64), "radiograph")(item)
    error = find_medseg_error(raised.value)
    assert isinstance(error, InputError) and "1 mask file(s) for this case, the bundle needs 5" in str(error)
    assert "right_lung" in str(error)  # names the first mask file


def test_radiograph_augmentation_never_flips_left_and_right(item):
    chain = planar.training_transforms(SCHEMA, 1, (64, 64), image_type="radiograph", augmentation="radiograph")
    chain.set_random_state(0)
    for _ in range(10):
        label = chain(item)["label"].numpy()
        assert label[0].nonzero()[0].mean() < label[1].nonzero()[0].mean()
    assert not any("Flip" in type(t).__name__ for t in chain.transforms)


def test_configs_of_runs_trained_before_the_merge_get_the_same_chain(item):
    """A sealed chest_xray run names ``medseg.transforms.xray``: same tensors, same random draws."""
    old = xray.training_transforms((64, 64), SCHEMA)
    new = planar.training_transforms(SCHEMA, 1, (64, 64), image_type="radiograph", augmentation="radiograph")
    old.set_random_state(3)
    new.set_random_state(3)
    for _ in range(3):
        a, b = old(dict(item)), new(dict(item))
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
    image = {"image": item["image"]}
    assert torch.equal(xray.inference_transforms((64, 64))(dict(image))["image"],
                       planar.inference_transforms(1, (64, 64), "radiograph")(dict(image))["image"])
