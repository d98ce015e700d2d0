"""Random states survive a checkpoint: after a restore every generator draws what it would have drawn."""

import random

import numpy as np
import torch

from medseg.bundle.find import find_bundle
from medseg.runtime.checkpoint import load_checkpoint, save_checkpoint
from medseg.training.state import capture_rng, restore_rng, transform_generators
from medseg.transforms.volume import training_transforms


def _draws(generator: torch.Generator, transforms) -> list:
    return [random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=generator)),
            *[float(g.rand()) for g in transform_generators(transforms)]]


def test_every_random_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    transforms = training_transforms(find_bundle("brain_tumor").schema, patch_size=(16, 16, 16))
    transforms.set_random_state(seed=7)
    assert len(transform_generators(transforms)) >= 5  # the chain, the crop (and its cropper), three flips...
    generator = torch.Generator().manual_seed(3)
    _draws(generator, transforms)  # move every state away from its seed

    save_checkpoint({"rng": capture_rng(generator, transforms)}, tmp_path / "state.pt")
    expected = _draws(generator, transforms)
    _draws(generator, transforms)  # and further on

    restore_rng(load_checkpoint(tmp_path / "state.pt")["rng"], generator, transforms)
    assert _draws(generator, transforms) == expected
