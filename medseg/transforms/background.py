"""A constant non-zero background (data z-scored before it reached us) set back to zero.

Skull-stripped MRI has a zero background, and the crop to the head and the z-score over non-zero
voxels rely on it. Some public sets ship already normalised: BraTS 2015 as distributed with
DeepMedic has a constant background of about -3.5 (FLAIR). Cropping to "non-zero" or normalising
over "non-zero" voxels would then take the whole volume. A channel whose eight corner voxels all
hold the same non-zero value, and whose voxels take that exact value over at least ``min_fraction``
of the volume, has that value set to zero; any other image is left untouched.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from itertools import product
from typing import Any

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform


def constant_background(channel: torch.Tensor, min_fraction: float = 0.1) -> float | None:
    """The channel's constant non-zero background value, or ``None`` when it has none."""
    corners = torch.stack([channel[index] for index in product(*[(0, -1)] * channel.ndim)])
    value = corners[0]
    if value == 0 or not bool((corners == value).all()):
        return None
    return float(value) if float((channel == value).float().mean()) >= min_fraction else None


class ZeroConstantBackgroundd(MapTransform):
    """Set each channel's constant non-zero background (see the module docstring) to zero."""

    def __init__(self, keys: KeysCollection = "image", min_fraction: float = 0.1) -> None:
        super().__init__(keys, allow_missing_keys=True)
        self.min_fraction = min_fraction

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            image = d[key]
            for c in range(image.shape[0]):
                value = constant_background(torch.as_tensor(image[c]), self.min_fraction)
                if value is not None:
                    image[c][image[c] == value] = 0
        return d
