"""Names that configs of older sealed runs call, for code that changed shape, not only its module.

A sealed run cannot be edited. Where a module only moved, the alias table (``medseg.aliases``) keeps
its old name; these are the names whose code was merged into another, resolved here:

* ``medseg.engine.planar.PlanarPredictor``: 2D bundles made by ``medseg bundle new`` before the
  predictors were merged; ``Predictor`` handles 2D bundles itself (a folder is a batch of images).
* ``medseg.transforms.xray``: chest_xray runs trained before the 2D chains were merged; each is the
  one 2D chain (``medseg.transforms.planar``) with the ``radiograph`` image type and augmentation,
  which is what ``bundles/chest_xray`` now names, and ``LargestComponents`` as it was re-exported there.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai import transforms as mt

from medseg.inference.postprocessing import LargestComponents
from medseg.inference.predictor import Predictor
from medseg.labels import LabelSchema
from medseg.transforms import planar

__all__ = ["LargestComponents", "PlanarPredictor", "inference_transforms", "training_transforms",
           "validation_transforms"]

PlanarPredictor = Predictor


def inference_transforms(spatial_size: Sequence[int] = (256, 256)) -> mt.Compose:
    return planar.inference_transforms(1, spatial_size, "radiograph")


def validation_transforms(spatial_size: Sequence[int], schema: LabelSchema) -> mt.Compose:
    return planar.validation_transforms(schema, 1, spatial_size, "radiograph")


def training_transforms(spatial_size: Sequence[int], schema: LabelSchema) -> mt.Compose:
    return planar.training_transforms(schema, 1, spatial_size, image_type="radiograph", augmentation="radiograph")
