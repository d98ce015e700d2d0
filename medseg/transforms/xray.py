"""Transform chains for 2D projection X-rays: one grey channel, resized to the network's working size.

Every image is read as a viewer shows it (``XRayReader``), resized with anti-aliasing to a fixed
square working size (recorded, so ``Invertd`` resamples the probabilities back onto the original
pixel grid) and histogram-equalised, which makes DICOM, JSRT and Montgomery images look alike.
Masks arrive as one file per structure (stacked as channels) and are thresholded; overlaps stay.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from monai import transforms as mt

from medseg.errors import InputError
from medseg.io.xray import XRayReader
from medseg.labels import LabelSchema

MASK_THRESHOLD = 128  # masks are {0, 255}; resized edges (Montgomery) are thresholded at 127


def _load(keys: list[str]) -> list:
    return [
        mt.LoadImaged(keys, reader=XRayReader(), ensure_channel_first=True, image_only=True),
        mt.EnsureTyped(keys, dtype="float32", track_meta=True),
    ]


def _resize_normalise(spatial_size: Sequence[int]) -> list:
    return [
        mt.Resized("image", spatial_size=list(spatial_size), mode="bilinear", anti_aliasing=True),
        mt.HistogramNormalized("image", num_bins=256, min=0, max=1),
    ]


class CheckMaskChannelsd(mt.MapTransform):
    """Refuse a case whose mask files do not give one channel per network output, naming the file."""

    def __init__(self, keys: Any, schema: LabelSchema) -> None:
        super().__init__(keys)
        self.schema = schema

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if d[key].shape[0] != self.schema.num_channels:
                names = ", ".join(self.schema.channel_names)
                raise InputError(
                    f"{d[key].shape[0]} mask file(s) for this case, the bundle needs {self.schema.num_channels} "
                    f"(one per structure: {names})", d[key].meta.get("filename_or_obj"),
                )
        return d


def _label(spatial_size: Sequence[int], schema: LabelSchema | None) -> list:
    """Binary masks at the working size: area-averaged then thresholded at one half."""
    return [
        *([CheckMaskChannelsd("label", schema)] if schema is not None else []),
        mt.AsDiscreted("label", threshold=MASK_THRESHOLD),
        mt.Resized("label", spatial_size=list(spatial_size), mode="area"),
        mt.AsDiscreted("label", threshold=0.5),
    ]


def inference_transforms(spatial_size: Sequence[int] = (256, 256)) -> mt.Compose:
    """What inference applies to an X-ray before the network."""
    return mt.Compose([*_load(["image"]), *_resize_normalise(spatial_size)])


def validation_transforms(spatial_size: Sequence[int] = (256, 256), schema: LabelSchema | None = None) -> mt.Compose:
    """Inference preprocessing plus the structure masks as target channels (checked against ``schema``)."""
    return mt.Compose([*_load(["image", "label"]), *_resize_normalise(spatial_size), *_label(spatial_size, schema)])


def training_transforms(
    spatial_size: Sequence[int] = (256, 256),
    rotate_degrees: float = 10.0,
    scale: float = 0.1,
    translate: float = 0.05,
    prob: float = 0.7,
    schema: LabelSchema | None = None,
) -> mt.Compose:
    """Validation chain plus small affine and contrast augmentation.

    No horizontal flip: left and right are the patient's sides and the heart is not symmetric.
    """
    keys = ["image", "label"]
    shift = [translate * s for s in spatial_size]
    return mt.Compose(
        [
            *validation_transforms(spatial_size, schema).transforms,
            mt.RandAffined(
                keys, prob=prob, rotate_range=np.deg2rad(rotate_degrees), scale_range=(scale, scale),
                translate_range=shift, mode=("bilinear", "nearest"), padding_mode="zeros",
            ),
            mt.RandAdjustContrastd("image", prob=0.5, gamma=(0.7, 1.5)),
            mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
            mt.RandGaussianNoised("image", prob=0.2, std=0.02),
        ]
    )


class LargestComponents:
    """Keep each structure's largest connected component and fill its holes (masks ``(C, *spatial)``).

    Every SCR structure is one connected region; stray islands and pin-holes are network noise.
    """

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        out = np.zeros_like(masks, dtype=bool)
        for c, mask in enumerate(np.asarray(masks, dtype=bool)):
            labels, count = ndimage.label(mask)
            if count == 0:
                continue
            sizes = np.bincount(labels.ravel())[1:]
            out[c] = ndimage.binary_fill_holes(labels == int(np.argmax(sizes)) + 1)
        return out
