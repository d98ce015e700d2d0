"""Transform chains for multi-modal 3D volumes (brain tumour MRI and similar)."""

from __future__ import annotations

from collections.abc import Sequence

from monai import transforms as mt

from medseg.labels import LabelSchema
from medseg.transforms.conform import ConformCased
from medseg.transforms.labels import LabelToChannelsd


def _load(keys: list[str], axcodes: str) -> list:
    """Load (stacking one file per modality as channels) and reorient to a canonical orientation.

    The reorientation is undone with ``Invertd`` before anything is written, so outputs stay on
    the input grid; it only flips/permutes axes, which inverts exactly.
    """
    return [
        mt.LoadImaged(keys, reader="NibabelReader", ensure_channel_first=True, image_only=True),
        ConformCased(),  # a manifest's label_map / channel_order, if it has them
        mt.Orientationd(keys, axcodes=axcodes, labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        mt.EnsureTyped(keys, dtype="float32", track_meta=True),
    ]


def inference_transforms(axcodes: str = "RAS") -> mt.Compose:
    """What inference applies to an image before the network."""
    return mt.Compose(
        [*_load(["image"], axcodes), mt.NormalizeIntensityd("image", nonzero=True, channel_wise=True)]
    )


def validation_transforms(schema: LabelSchema, axcodes: str = "RAS") -> mt.Compose:
    """Inference preprocessing plus the label turned into target channels."""
    return mt.Compose(
        [
            *_load(["image", "label"], axcodes),
            LabelToChannelsd("label", schema),
            mt.NormalizeIntensityd("image", nonzero=True, channel_wise=True),
        ]
    )


def training_transforms(
    schema: LabelSchema,
    patch_size: Sequence[int],
    samples_per_case: int = 2,
    flip_axes: Sequence[int] = (0, 1, 2),
    axcodes: str = "RAS",
) -> mt.Compose:
    """Validation chain plus foreground-weighted patch sampling and light augmentation.

    ``flip_axes`` must leave out the left-right axis for tasks with lateral labels (the schema has
    no notion of a left-right swap for 3D tasks yet).
    """
    keys = ["image", "label"]
    return mt.Compose(
        [
            *validation_transforms(schema, axcodes).transforms,
            mt.SpatialPadd(keys, spatial_size=list(patch_size)),
            _foreground_crop(schema, keys, patch_size, samples_per_case),
            *[mt.RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in flip_axes],
            mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
            mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5),
        ]
    )


def _foreground_crop(schema: LabelSchema, keys: list[str], patch_size: Sequence[int], samples: int):
    """Patches centred on foreground 2 times in 3. Exclusive targets are one-hot, where every voxel is
    some class, so they sample per class (background weight 1, each label 2) instead of "any channel"."""
    if schema.mode == "exclusive":
        return mt.RandCropByLabelClassesd(
            keys, label_key="label", spatial_size=list(patch_size), ratios=[1] + [2] * len(schema.labels),
            num_classes=schema.num_channels, num_samples=samples, image_key="image", image_threshold=0,
            warn=False,
        )
    return mt.RandCropByPosNegLabeld(
        keys, label_key="label", spatial_size=list(patch_size), pos=2, neg=1,
        num_samples=samples, image_key="image", image_threshold=0,
    )
