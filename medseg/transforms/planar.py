"""Transform chains for 2D images (photos, radiographs, slices): grey or RGB, PNG/JPEG/TIFF or NIfTI.

Images load channel-first (RGB → 3 channels, grey and palette → 1), are resized to a working size
and normalised per channel. The resize is a MONAI ``Resized``, so ``Invertd`` brings predictions
back to the input's own size before anything is written.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai import transforms as mt
from monai.data import PILReader

from medseg.labels import LabelSchema
from medseg.transforms.conform import ConformCased
from medseg.transforms.labels import LabelToChannelsd


class ToMode:
    """PIL converter: every image in one mode (``RGB`` or ``L``), palette images by their displayed colours."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, image):
        return image if image.mode == self.mode else image.convert(self.mode)


class Planard(mt.MapTransform):
    """Drop a trailing singleton axis (a 2D NIfTI stored X×Y×1), so every 2D input is (C, X, Y)."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if d[key].ndim == 4 and d[key].shape[-1] == 1:
                d[key] = d[key][..., 0]
        return d


def _load_image(channels: int) -> list:
    reader = PILReader(converter=ToMode("RGB" if channels == 3 else "L"))
    return [
        mt.LoadImaged("image", reader=reader, ensure_channel_first=True, image_only=True),
        Planard("image"),
        mt.EnsureTyped("image", dtype="float32", track_meta=True),
    ]


def _load_label() -> list:
    # Masks keep their stored values: a palette PNG's indices are the classes, not its colours.
    return [
        mt.LoadImaged("label", reader=PILReader(), ensure_channel_first=True, image_only=True),
        Planard("label"),
        mt.EnsureTyped("label", dtype="float32", track_meta=True),
    ]


def inference_transforms(channels: int = 1, size: Sequence[int] = (256, 256)) -> mt.Compose:
    """Load, resize to the working size, normalise each channel."""
    return mt.Compose([
        *_load_image(channels),
        ConformCased(),
        mt.Resized("image", spatial_size=list(size), mode="bilinear", anti_aliasing=True),
        mt.NormalizeIntensityd("image", channel_wise=True),
    ])


def validation_transforms(schema: LabelSchema, channels: int = 1, size: Sequence[int] = (256, 256)) -> mt.Compose:
    """Inference chain for the image; the mask resized by nearest neighbour and turned into target channels."""
    return mt.Compose([
        *_load_image(channels),
        *_load_label(),
        ConformCased(),
        mt.Resized("image", spatial_size=list(size), mode="bilinear", anti_aliasing=True),
        mt.Resized("label", spatial_size=list(size), mode="nearest"),
        LabelToChannelsd("label", schema),
        mt.NormalizeIntensityd("image", channel_wise=True),
    ])


def training_transforms(schema: LabelSchema, channels: int = 1, size: Sequence[int] = (256, 256),
                        flip_axes: Sequence[int] = ()) -> mt.Compose:
    """Validation chain plus light augmentation; flips only on request (left/right labels must not flip)."""
    keys = ["image", "label"]
    return mt.Compose([
        *validation_transforms(schema, channels, size).transforms,
        mt.RandAffined(keys, prob=0.5, rotate_range=0.1, scale_range=0.1, mode=("bilinear", "nearest"),
                       padding_mode="zeros"),
        *[mt.RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in flip_axes],
        mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
        mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5),
    ])
