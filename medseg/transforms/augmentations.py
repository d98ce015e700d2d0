"""Training augmentation profiles, built from MONAI transforms.

``nnunet`` follows nnU-Net's default data augmentation (Isensee et al. 2021, supplementary): rotation
and scaling (p 0.2 each, +-30 deg, x0.7-1.4), Gaussian noise (p 0.1), Gaussian blur (p 0.2),
brightness (p 0.15, x0.75-1.25), contrast (p 0.15), low-resolution simulation (p 0.25, x0.5-1),
gamma (p 0.3, also on the inverted image p 0.1) and mirroring (p 0.5 per allowed axis). The
rotation/scaling runs on the sampled patch, as MONAI's ``RandAffined`` would on any patch, with
reflection padding so no black corners appear. Targets are resampled by nearest neighbour.

``planar`` (2D, the 2D planner's parameters: rotation, scaling, elastic, colour jitter, flips) and
``radiograph`` (projection X-rays: a small fixed affine, gamma and noise, never a flip) are the two
profiles of the one 2D chain (``medseg.transforms.planar``).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import pi

import numpy as np
from monai import transforms as mt


def light(keys: list[str], flip_axes: Sequence[int]) -> list:
    """Flips and small intensity changes: enough for short CPU runs on clean data."""
    return [
        *[mt.RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in flip_axes],
        mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
        mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5),
    ]


def nnunet(keys: list[str], flip_axes: Sequence[int], dims: int = 3) -> list:
    """nnU-Net's default augmentation in MONAI terms (probabilities and ranges as nnU-Net's).

    One ``RandAffined`` at p 0.36 stands for nnU-Net's two independent p 0.2 draws (rotation, scaling).
    """
    angle = 30 / 180 * pi
    return [
        mt.RandAffined(keys, prob=0.36, rotate_range=(angle,) * (3 if dims == 3 else 1),
                       scale_range=(0.3,) * dims, mode=("bilinear", "nearest"), padding_mode="reflection"),
        mt.RandGaussianNoised("image", prob=0.1, mean=0.0, std=0.1),
        mt.RandGaussianSmoothd("image", prob=0.2, sigma_x=(0.5, 1.0), sigma_y=(0.5, 1.0), sigma_z=(0.5, 1.0)),
        mt.RandScaleIntensityd("image", factors=0.25, prob=0.15),
        mt.RandScaleIntensityFixedMeand("image", factors=0.25, preserve_range=True, prob=0.15),
        mt.RandSimulateLowResolutiond("image", prob=0.25, zoom_range=(0.5, 1.0)),
        mt.RandAdjustContrastd("image", prob=0.1, gamma=(0.7, 1.5), invert_image=True, retain_stats=True),
        mt.RandAdjustContrastd("image", prob=0.3, gamma=(0.7, 1.5), invert_image=False, retain_stats=True),
        *[mt.RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in flip_axes],
    ]


def planar(keys: list[str], flip_axes: Sequence[int], rotate: float = 0.1, scale: float = 0.1, elastic: bool = False,
           colour_jitter: bool = False) -> list:
    """2D images as the 2D planner sees them: ``rotate`` in radians; ``elastic`` for thin structures
    (membranes, vessels); ``colour_jitter`` for photographs; flips only on the axes the labels allow."""
    return [
        mt.RandAffined(keys, prob=0.5, rotate_range=rotate, scale_range=scale, mode=("bilinear", "nearest"),
                       padding_mode="zeros"),
        *([mt.Rand2DElasticd(keys, spacing=(16, 16), magnitude_range=(1, 2), prob=0.3, mode=("bilinear", "nearest"),
                             padding_mode="zeros")] if elastic else []),
        *[mt.RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in flip_axes],
        mt.RandScaleIntensityd("image", factors=0.1, prob=0.5, channel_wise=colour_jitter),
        mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5, channel_wise=colour_jitter),
        *([mt.RandAdjustContrastd("image", prob=0.3, gamma=(0.8, 1.25))] if colour_jitter else []),
    ]


def radiograph(keys: list[str], size: Sequence[int] = ()) -> list:
    """Projection X-rays: rotation ±10°, scaling ±10 %, shifts of 5 % of ``size`` (p 0.7), gamma, noise.

    No flip on any axis: left and right are the patient's sides and the heart is not symmetric.
    """
    return [
        mt.RandAffined(keys, prob=0.7, rotate_range=np.deg2rad(10.0), scale_range=(0.1, 0.1),
                       translate_range=[0.05 * s for s in size] or None, mode=("bilinear", "nearest"),
                       padding_mode="zeros"),
        mt.RandAdjustContrastd("image", prob=0.5, gamma=(0.7, 1.5)),
        mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
        mt.RandGaussianNoised("image", prob=0.2, std=0.02),
    ]


def augmentation(profile: bool | str, keys: list[str], flip_axes: Sequence[int], dims: int = 3) -> list:
    """The transforms of a profile: ``nnunet``, ``light`` (or True), ``none`` (or False)."""
    if profile is True or profile == "light":
        return light(keys, flip_axes)
    if profile is False or profile in ("none", None):
        return []
    if profile == "nnunet":
        return nnunet(keys, flip_axes, dims)
    raise ValueError(f"unknown augmentation {profile!r}: expected nnunet, light or none")
