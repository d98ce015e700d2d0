"""Transform chains for multi-modal 3D volumes (brain tumour MRI and similar)."""

from __future__ import annotations

from collections.abc import Sequence

from monai import transforms as mt

from medseg.labels import LabelSchema
from medseg.transforms.background import ZeroConstantBackgroundd
from medseg.transforms.checks import CheckedLoadImaged
from medseg.transforms.conform import ConformCased
from medseg.transforms.labels import LabelToChannelsd
from medseg.transforms.modality import FillMissingChannelsd, RandModalityDropoutd


def _load(keys: list[str], axcodes: str) -> list:
    """Load (stacking one file per modality as channels) and reorient to a canonical orientation.

    The reorientation is undone with ``Invertd`` before anything is written, so outputs stay on
    the input grid; it only flips/permutes axes, which inverts exactly. Unreadable files, NaN/Inf
    voxels and blank images fail here with the file named (``CheckedLoadImaged``).
    """
    return [
        CheckedLoadImaged(keys, reader="NibabelReader", ensure_channel_first=True, image_only=True),
        ConformCased(),  # a manifest's label_map / channel_order, if it has them
        ZeroConstantBackgroundd("image"),  # data z-scored upstream (constant negative background) → 0
        FillMissingChannelsd("image"),  # a study without some sequences: zero channels (bundle supports it)
        mt.Orientationd(keys, axcodes=axcodes, labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        mt.EnsureTyped(keys, dtype="float32", track_meta=True),
    ]


def _crop(keys: list[str], margin: int) -> list:
    """Crop to the non-zero head/brain box: skull-stripped MRI is mostly zero background.

    Invertible: ``Invertd`` pads the prediction back with background before writing.
    """
    # the box is recorded in the image's applied_operations for Invertd; no extra (uncollatable) keys
    crop = mt.CropForegroundd(keys, source_key="image", margin=margin, allow_smaller=True,
                              start_coord_key=None, end_coord_key=None)
    return [crop] if margin >= 0 else []


def inference_transforms(axcodes: str = "RAS", crop_margin: int = 4) -> mt.Compose:
    """What inference applies to an image before the network (``crop_margin < 0``: no crop)."""
    return mt.Compose(
        [
            *_load(["image"], axcodes),
            *_crop(["image"], crop_margin),
            mt.NormalizeIntensityd("image", nonzero=True, channel_wise=True),
        ]
    )


def validation_transforms(schema: LabelSchema, axcodes: str = "RAS", crop_margin: int = 4) -> mt.Compose:
    """Inference preprocessing plus the label turned into target channels."""
    return mt.Compose(
        [
            *_load(["image", "label"], axcodes),
            *_crop(["image", "label"], crop_margin),
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
    augment: bool = True,
    modality_dropout: RandModalityDropoutd | None = None,
) -> mt.Compose:
    """Validation chain plus foreground-weighted patch sampling and light augmentation.

    ``flip_axes`` must leave out the left-right axis for tasks with lateral labels (the schema has
    no notion of a left-right swap for 3D tasks yet). ``augment=False`` keeps only the patch
    sampling (used to compare one process with several on identical data). ``modality_dropout``
    blanks sequences at random so the model also segments studies that lack some.
    """
    keys = ["image", "label"]
    return mt.Compose(
        [
            *validation_transforms(schema, axcodes).transforms,
            mt.SpatialPadd(keys, spatial_size=list(patch_size)),
            *_foreground_crop(schema, keys, patch_size, samples_per_case),
        ]
        + (
            [
                *[mt.RandFlipd(keys, prob=0.5, spatial_axis=axis) for axis in flip_axes],
                mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
                mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5),
            ]
            if augment
            else []
        )
        + ([modality_dropout] if modality_dropout is not None and augment else [])
    )


def _foreground_crop(schema: LabelSchema, keys: list[str], patch_size: Sequence[int], samples: int) -> list:
    """Patches centred on foreground 2 times in 3. Exclusive targets are one-hot, where every voxel is
    some class, so they sample per class (background weight 1, each label 2) instead of "any channel".

    Overlapping targets get their foreground/background voxel indices computed once and cached with
    the volume, so each random crop is a lookup instead of a scan of the whole label.
    """
    if schema.mode == "exclusive":
        return [mt.RandCropByLabelClassesd(
            keys, label_key="label", spatial_size=list(patch_size), ratios=[1] + [2] * len(schema.labels),
            num_classes=schema.num_channels, num_samples=samples, image_key="image", image_threshold=0,
            warn=False,
        )]
    return [
        mt.FgBgToIndicesd("label", image_key="image", image_threshold=0),
        mt.RandCropByPosNegLabeld(
            keys, label_key="label", spatial_size=list(patch_size), pos=2, neg=1, num_samples=samples,
            fg_indices_key="label_fg_indices", bg_indices_key="label_bg_indices",
        ),
    ]
