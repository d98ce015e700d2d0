"""The 2D transform chain: photos, micrographs, slices and projection X-rays (PNG/JPEG/TIFF, NIfTI, DICOM).

Images load channel-first (RGB → 3 channels, grey and palette → 1, 16-bit grey kept 16-bit) and
are normalised by image type: RGB photographs per channel, 8-bit grey by z-score, 16-bit grey
clipped to its 0.5–99.5 percentiles first, and ``radiograph``: read as a viewer shows it
(``medseg.io.xray``: DICOM CR/DX with its VOI LUT and MONOCHROME1 inversion, palette PNGs) and
histogram-equalised, which makes DICOM, JSRT and Montgomery images look alike. By default images
stay at native resolution and training samples patches (``patch_size``) while inference slides a
window; ``size`` resizes instead (a MONAI ``Resized``, inverted by ``Invertd``).

Masks are read through the bundle's ``MaskCoding`` (``medseg.io.masks``) onto the image's grid: one
file is a label map; a list is one binary mask per structure (SCR's lungs, heart and clavicles),
stacked as overlapping channels. Target channels are resized by nearest neighbour (exclusive
schemas) or area-averaged and thresholded at one half (overlapping: each channel its own mask).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai import transforms as mt
from monai.data import MetaTensor, PILReader

from medseg.io.masks import MaskCoding, read_mask, read_structure_masks
from medseg.io.xray import XRayReader
from medseg.labels import LabelSchema
from medseg.transforms import augmentations
from medseg.transforms.checks import CheckedLoadImaged
from medseg.transforms.conform import ConformCased
from medseg.transforms.labels import STRUCTURE_CHANNELS, LabelToChannelsd

IMAGE_TYPES = ("rgb", "grey8", "grey16", "radiograph")
AUGMENTATIONS = ("planar", "radiograph")
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
    """Read a 2D mask through the item's ``mask_coding`` onto the loaded image's grid.

    One file gives a (1, X, Y) label map. A list gives one binary channel per file, in the schema's
    channel order (``medseg.io.masks.read_structure_masks``, counted against ``schema``); the stack is
    marked as already being the target (``STRUCTURE_CHANNELS``).
    """

    def __init__(self, keys: Any, schema: LabelSchema, image_key: str = "image") -> None:
        super().__init__(keys)
        self.schema = schema
        self.image_key = image_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        coding = MaskCoding.from_json(d.pop("mask_coding", None))
        image = d[self.image_key]
        shape = tuple(image.shape[1:])
        for key in self.key_iterator(d):
            meta = dict(image.meta) if isinstance(image, MetaTensor) else {}
            if isinstance(d[key], str | bytes) or not isinstance(d[key], Sequence):
                label, meta["filename_or_obj"] = read_mask(d[key], coding, shape=shape)[None], str(d[key])
            else:
                label = read_structure_masks(list(d[key]), self.schema.channel_names, shape, coding)
                meta["filename_or_obj"] = str(d[key][0])
                meta[STRUCTURE_CHANNELS] = True
            d[key] = MetaTensor(label.astype(np.float32), meta=meta)
        return d


class ResizeTargetd(mt.MapTransform):
    """Resize target channels: nearest (exclusive one-hot) or area then a threshold of one half (overlapping)."""

    def __init__(self, keys: Any, size: Sequence[int], schema: LabelSchema) -> None:
        super().__init__(keys)
        mode = "nearest" if schema.mode == "exclusive" else "area"
        self.resize = mt.Resized(keys, spatial_size=list(size), mode=mode)
        self.binarise = mt.AsDiscreted(keys, threshold=0.5) if mode == "area" else None

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = self.resize(data)
        return self.binarise(d) if self.binarise is not None else dict(d)


def _load_image(channels: int, image_type: str) -> list:
    if image_type == "radiograph":
        reader = XRayReader()
    else:
        reader = PILReader(converter=ToMode("RGB" if channels == 3 else "L"))
    return [
        CheckedLoadImaged("image", reader=reader, ensure_channel_first=True, image_only=True),
        Planard("image"),
        mt.EnsureTyped("image", dtype="float32", track_meta=True),
    ]


def normalise(image_type: str = "grey8") -> list:
    """Intensity normalisation by image type (the plan's choice)."""
    if image_type not in IMAGE_TYPES:
        raise ValueError(f"image_type must be one of {IMAGE_TYPES}, got {image_type!r}")
    if image_type == "radiograph":
        return [mt.HistogramNormalized("image", num_bins=256, min=0, max=1)]
    clip = [mt.ScaleIntensityRangePercentilesd("image", lower=0.5, upper=99.5, b_min=0.0, b_max=1.0, clip=True,
                                               channel_wise=True)] if image_type == "grey16" else []
    return [*clip, mt.NormalizeIntensityd("image", channel_wise=True)]


def _resize_image(size: Sequence[int] | None) -> list:
    return [mt.Resized("image", spatial_size=list(size), mode="bilinear", anti_aliasing=True)] if size else []


def inference_transforms(channels: int = 1, size: Sequence[int] | None = None, image_type: str = "grey8"
                         ) -> mt.Compose:
    """Load, optionally resize, normalise by image type."""
    return mt.Compose([*_load_image(channels, image_type), ConformCased(), *_resize_image(size),
                       *normalise(image_type)])


def validation_transforms(schema: LabelSchema, channels: int = 1, size: Sequence[int] | None = None,
                          image_type: str = "grey8") -> mt.Compose:
    """Inference chain plus the mask on the image grid as target channels (resized with the image)."""
    return mt.Compose([
        *_load_image(channels, image_type), LoadMaskd("label", schema), ConformCased(),
        LabelToChannelsd("label", schema), *_resize_image(size),
        *([ResizeTargetd("label", size, schema)] if size else []), *normalise(image_type),
    ])


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
    augmentation: str = "planar",
) -> mt.Compose:
    """Validation chain, patches (foreground-weighted) and an augmentation profile.

    ``planar`` takes the 2D planner's ``rotate`` (radians), ``scale``, ``elastic``, ``colour_jitter``
    and ``flip_axes`` (a task with left/right labels must not flip); ``radiograph`` is the chest X-ray
    recipe and takes none of them (``medseg.transforms.augmentations``).
    """
    keys = ["image", "label"]
    crop = []
    if patch_size:
        ratios = schema.crop_ratios() if schema.mode == "exclusive" else None
        crop = [mt.SpatialPadd(keys, spatial_size=list(patch_size)),
                mt.RandCropByLabelClassesd(keys, label_key="label", spatial_size=list(patch_size), ratios=ratios,
                                           num_classes=schema.num_channels if ratios else None,
                                           num_samples=samples_per_case, warn=False)
                if ratios else
                mt.RandCropByPosNegLabeld(keys, label_key="label", spatial_size=list(patch_size), pos=2, neg=1,
                                          num_samples=samples_per_case)]
    if augmentation == "planar":
        augment = augmentations.planar(keys, flip_axes, rotate, scale, elastic, colour_jitter)
    elif augmentation == "radiograph":
        augment = augmentations.radiograph(keys, patch_size or size or ())
    else:
        raise ValueError(f"augmentation must be one of {AUGMENTATIONS}, got {augmentation!r}")
    return mt.Compose([*validation_transforms(schema, channels, size, image_type).transforms, *crop, *augment])
