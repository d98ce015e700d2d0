"""Names that configs of chest_xray runs trained before the 2D chains were merged still call.

A sealed run cannot be edited, so these stay: each is the one 2D chain (``medseg.transforms.planar``)
with the ``radiograph`` image type and augmentation, which is what ``bundles/chest_xray`` now names.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai import transforms as mt

from medseg.labels import LabelSchema
from medseg.postprocess import LargestComponents
from medseg.transforms import planar

__all__ = ["LargestComponents", "inference_transforms", "training_transforms", "validation_transforms"]


def inference_transforms(spatial_size: Sequence[int] = (256, 256)) -> mt.Compose:
    return planar.inference_transforms(1, spatial_size, "radiograph")


def validation_transforms(spatial_size: Sequence[int], schema: LabelSchema) -> mt.Compose:
    return planar.validation_transforms(schema, 1, spatial_size, "radiograph")


def training_transforms(spatial_size: Sequence[int], schema: LabelSchema) -> mt.Compose:
    return planar.training_transforms(schema, 1, spatial_size, image_type="radiograph", augmentation="radiograph")
