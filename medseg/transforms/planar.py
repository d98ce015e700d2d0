"""Transform chains for 2D images (photos, micrographs, radiographs, slices): PNG/JPEG/TIFF or NIfTI.

Images load channel-first (RGB → 3 channels, grey and palette → 1, 16-bit grey kept 16-bit) and
are normalised by image type: RGB photographs per channel, 8-bit grey by z-score, 16-bit grey
clipped to its 0.5–99.5 percentiles first. By default they stay at native resolution and
training samples patches (``patch_size``) while inference slides a window; ``size`` resizes
instead (a MONAI ``Resized``, inverted by ``Invertd``). Masks are read through the bundle's
``MaskCoding`` (``medseg.io.masks``) and put on the image's grid when stored at another size.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai import transforms as mt
from monai.data import MetaTensor, PILReader

from medseg.io.masks import MaskCoding, read_mask
from medseg.labels import LabelSchema
from medseg.transforms.conform import ConformCased
from medseg.transforms.labels import LabelToChannelsd

IMAGE_TYPES = ("rgb", "grey8", "grey16")
WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "F")


class ToMode:
    """PIL converter: every image in one mode (``RGB`` or ``L``), palette images by their displayed colours.

    16-bit and float grey images stay as they are (``L`` would cut them to 8 bits).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, image):
        if self.mode == "L" and image.mode in WIDE_GREY:
            return image if image.mode in ("I", "F") else image.convert("I")
        return image if image.mode == self.mode else image.convert(self.mode)


class Planard(mt.MapTransform):
    """Drop a trailing singleton axis (a 2D NIfTI stored X×Y×1), so every 2D input is (C, X, Y)."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if d[key].ndim == 4 and d[key].shape[-1] == 1:
                d[key] = d[key][..., 0]
        return d


class LoadMaskd(mt.MapTransform):
    """Read a 2D mask through the item's ``mask_coding`` onto the loaded image's grid, as a (1, X, Y) map."""

    def __init__(self, keys: Any = "label", image_key: str = "image") -> None:
        super().__init__(keys)
        self.image_key = image_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        coding = MaskCoding.from_json(d.pop("mask_coding", None))
        image = d[self.image_key]
        for key in self.key_iterator(d):
            label = read_mask(d[key], coding, shape=tuple(image.shape[1:]))
            meta = dict(image.meta) if isinstance(image, MetaTensor) else {}
            meta["filename_or_obj"] = str(d[key])
            d[key] = MetaTensor(label[None].astype(np.float32), meta=meta)
        return d


def _load_image(channels: int) -> list:
    reader = PILReader(converter=ToMode("RGB" if channels == 3 else "L"))
    return [
        mt.LoadImaged("image", reader=reader, ensure_channel_first=True, image_only=True),
        Planard("image"),
        mt.EnsureTyped("image", dtype="float32", track_meta=True),
    ]


def normalise(image_type: str = "grey8") -> list:
    """Intensity normalisation by image type (the plan's choice)."""
    if image_type not in IMAGE_TYPES:
        raise ValueError(f"image_type must be one of {IMAGE_TYPES}, got {image_type!r}")
    clip = [mt.ScaleIntensityRangePercentilesd("image", lower=0.5, upper=99.5, b_min=0.0, b_max=1.0, clip=True,
                                               channel_wise=True)] if image_type == "grey16" else []
    return [*clip, mt.NormalizeIntensityd("image", channel_wise=True)]


def _resize(keys: Sequence[str], size: Sequence[int] | None) -> list:
    if not size:
        return []
    modes = {"image": "bilinear", "label": "nearest"}
    return [mt.Resized(key, spatial_size=list(size), mode=modes[key], **({"anti_aliasing": True} if key == "image"
                                                                         else {})) for key in keys]


def inference_transforms(channels: int = 1, size: Sequence[int] | None = None, image_type: str = "grey8"
                         ) -> mt.Compose:
    """Load, optionally resize, normalise by image type."""
    return mt.Compose([*_load_image(channels), ConformCased(), *_resize(["image"], size), *normalise(image_type)])


def _labelled(channels: int, size: Sequence[int] | None, image_type: str) -> list:
    return [*_load_image(channels), LoadMaskd("label"), ConformCased(), *_resize(["image", "label"], size),
            *normalise(image_type)]


def validation_transforms(schema: LabelSchema, channels: int = 1, size: Sequence[int] | None = None,
                          image_type: str = "grey8") -> mt.Compose:
    """Inference chain plus the mask (on the image grid) turned into target channels."""
    return mt.Compose([*_labelled(channels, size, image_type), LabelToChannelsd("label", schema)])


def training_transforms(
    schema: LabelSchema,
    channels: int = 1,
    size: Sequence[int] | None = None,
    flip_axes: Sequence[int] = (),
    image_type: str = "grey8",
    patch_size: Sequence[int] | None = None,
    samples_per_case: int = 1,
    rotate: float = 0.1,
    scale: float = 0.1,
    elastic: bool = False,
    colour_jitter: bool = False,
) -> mt.Compose:
    """Validation chain, patches (foreground-weighted) and the plan's augmentation.

    Flips only on request: a task with left/right labels must not flip. ``rotate`` is in radians;
    ``elastic`` deforms thin structures (membranes, vessels); ``colour_jitter`` is for photographs.
    """
    keys = ["image", "label"]
    crop = []
    if patch_size:
        ratios = [1] + [2] * len(schema.labels) if schema.mode == "exclusive" else None
        crop = [mt.SpatialPadd(keys, spatial_size=list(patch_size)),
                mt.RandCropByLabelClassesd(keys, label_key="label", spatial_size=list(patch_size), ratios=ratios,
                                           num_classes=schema.num_channels if ratios else None,
                                           num_samples=samples_per_case, warn=False)
                if ratios else
                mt.RandCropByPosNegLabeld(keys, label_key="label", spatial_size=list(patch_size), pos=2, neg=1,
                                          num_samples=samples_per_case)]
    return mt.Compose([
        *validation_transforms(schema, channels, size, image_type).transforms,
        *crop,
        mt.RandAffined(keys, prob=0.5, rotate_range=rotate, scale_range=scale, mode=("bilinear", "nearest"),
                       padding_mode="zeros"),
        *([mt.Rand2DElasticd(keys, spacing=(16, 16), magnitude_range=(1, 2), prob=0.3, mode=("bilinear", "nearest"),
                             padding_mode="zeros")] if elastic else []),
        *[mt.RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in flip_axes],
        mt.RandScaleIntensityd("image", factors=0.1, prob=0.5, channel_wise=colour_jitter),
        mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5, channel_wise=colour_jitter),
        *([mt.RandAdjustContrastd("image", prob=0.3, gamma=(0.8, 1.25))] if colour_jitter else []),
    ])
