"""X-ray chains: masks stacked as overlapping channels, no left-right flip, clean-up of stray islands."""

import numpy as np

from medseg.data.importers import import_dataset
from medseg.data.manifest import case_to_dict, load_manifest
from medseg.transforms.xray import LargestComponents, training_transforms, validation_transforms
from tests.xray_helpers import write_structure_folder


def test_validation_chain_stacks_half_size_masks_as_overlapping_channels(tmp_path):
    root = write_structure_folder(tmp_path / "scr", 1, size=(96, 80))
    case = load_manifest(import_xray(root, tmp_path / "m.json")).cases("training")[0]
    data = validation_transforms((64, 64))(case_to_dict(case))
    assert tuple(data["image"].shape) == (1, 64, 64) and tuple(data["label"].shape) == (5, 64, 64)
    assert set(np.unique(data["label"].numpy())) == {0.0, 1.0}
    label = data["label"].numpy()
    assert (label[0] * label[3]).sum() > 0  # clavicle overlaps the lung: both channels keep it
    right, left = label[0].nonzero()[0].mean(), label[1].nonzero()[0].mean()
    assert right < left  # patient's right lung on the image's left (axis 0 = x)


def test_training_chain_never_flips_left_and_right(tmp_path):
    root = write_structure_folder(tmp_path / "scr", 1, size=(96, 80))
    item = case_to_dict(load_manifest(import_xray(root, tmp_path / "m.json")).cases("training")[0])
    chain = training_transforms((64, 64))
    chain.set_random_state(0)
    for _ in range(10):
        label = chain(item)["label"].numpy()
        assert label[0].nonzero()[0].mean() < label[1].nonzero()[0].mean()
    assert not any("Flip" in type(t).__name__ for t in chain.transforms)


def test_largest_components_drops_islands_and_fills_holes():
    masks = np.zeros((2, 20, 20), dtype=bool)
    masks[0, 2:12, 2:12] = True
    masks[0, 6, 6] = False  # a hole
    masks[0, 16:18, 16:18] = True  # an island
    out = LargestComponents()(masks)
    assert out[0, 6, 6] and not out[0, 16:18, 16:18].any() and out[0].sum() == 100
    assert not out[1].any()


def import_xray(root, output, layout="structures", test_fraction=0.0, seed=0):
    """What ``medseg data import-xray`` runs: the folder importer with a chest X-ray layout."""
    return import_dataset("folder", root, "chest_xray", output, layout=layout, test_fraction=test_fraction, seed=seed)
