"""A zoo bundle's declared preprocessing, behind medseg's checked loading.

The zoo's ``LoadImaged``/``EnsureChannelFirstd`` are replaced by medseg's loader (files named in
errors, NaN/Inf and blank volumes refused, a manifest's channel order applied); the zoo's other
steps run as declared, with their arguments. Every spatial step is undone by ``Invertd`` before
anything is written, so outputs lie on the input grid whatever the zoo resamples to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monai import transforms as mt

from medseg.transforms.checks import CheckedLoadImaged
from medseg.transforms.conform import ConformCased

# Steps medseg's own loading replaces, and steps it imports from a zoo config (MONAI dictionary
# transforms with literal arguments); anything else in a zoo's preprocessing is refused.
REPLACED = ("LoadImaged", "EnsureChannelFirstd", "EnsureTyped", "ToTensord")
IMPORTED = ("Orientationd", "Spacingd", "NormalizeIntensityd", "ScaleIntensityRanged", "ScaleIntensityd",
            "ScaleIntensityRangePercentilesd", "ThresholdIntensityd", "CropForegroundd", "SpatialPadd",
            "DivisiblePadd", "CastToTyped")


def zoo_preprocessing(steps: Sequence[Any] = (), axcodes: str | None = None) -> mt.Compose:
    """medseg's loader, then (when the zoo declares no orientation) ``axcodes``, then the zoo's steps."""
    chain: list[Any] = [
        CheckedLoadImaged("image", reader="NibabelReader", ensure_channel_first=True, image_only=True),
        ConformCased(),
    ]
    if axcodes and not any(isinstance(step, mt.Orientationd) for step in steps):
        chain.append(mt.Orientationd("image", axcodes=axcodes))
    chain.append(mt.EnsureTyped("image", dtype="float32", track_meta=True))
    return mt.Compose([*chain, *steps])
