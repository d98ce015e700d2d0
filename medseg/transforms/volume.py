"""Transform chains for multi-modal 3D volumes (brain tumour MRI and similar)."""

from __future__ import annotations

from collections.abc import Sequence

from monai import transforms as mt

from medseg.labels import LabelSchema
from medseg.transforms.augmentations import augmentation
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


def loading_transforms(keys: list[str], axcodes: str = "RAS") -> mt.Compose:
    """Only the loading part of every chain (conformed, reoriented): what the planner fingerprints."""
    return mt.Compose(_load(keys, axcodes))


def _crop(keys: list[str], margin: int) -> list:
    """Crop to the non-zero head/brain box: skull-stripped MRI is mostly zero background.

    Invertible: ``Invertd`` pads the prediction back with background before writing.
    """
    # the box is recorded in the image's applied_operations for Invertd; no extra (uncollatable) keys
    crop = mt.CropForegroundd(keys, source_key="image", margin=margin, allow_smaller=True,
                              start_coord_key=None, end_coord_key=None)
    return [crop] if margin >= 0 else []


def _resample(keys: list[str], spacing: Sequence[float] | None) -> list:
    """Resample to the plan's target spacing (``None``: keep each case's own grid).

    Images are interpolated linearly, labels by nearest neighbour; ``Invertd`` brings predictions back.
    """
    if spacing is None:
        return []
    modes = ["bilinear" if key == "image" else "nearest" for key in keys]
    return [mt.Spacingd(keys, pixdim=[float(s) for s in spacing], mode=modes)]


def normalise(intensity: dict | None = None) -> list:
    """Intensity normalisation by image type: MR (default) z-score over the foreground (non-zero) voxels;
    CT (``{"kind": "ct", "clip": [lo, hi], "mean": m, "std": s}``, from the dataset's foreground, as
    nnU-Net does) clipped to the window then z-scored with the dataset's statistics."""
    if not intensity or intensity.get("kind", "mr") == "mr":
        return [mt.NormalizeIntensityd("image", nonzero=True, channel_wise=True)]
    low, high = (float(v) for v in intensity["clip"])
    return [mt.ScaleIntensityRanged("image", a_min=low, a_max=high, b_min=low, b_max=high, clip=True),
            mt.NormalizeIntensityd("image", subtrahend=float(intensity["mean"]), divisor=float(intensity["std"]))]


def inference_transforms(axcodes: str = "RAS", crop_margin: int = 4,
                         spacing: Sequence[float] | None = None, intensity: dict | None = None) -> mt.Compose:
    """What inference applies to an image before the network (``crop_margin < 0``: no crop)."""
    return mt.Compose(
        [
            *_load(["image"], axcodes),
            *_crop(["image"], crop_margin),
            *_resample(["image"], spacing),
            *normalise(intensity),
        ]
    )


def validation_transforms(schema: LabelSchema, axcodes: str = "RAS", crop_margin: int = 4,
                          spacing: Sequence[float] | None = None, intensity: dict | None = None) -> mt.Compose:
    """Inference preprocessing plus the label turned into target channels."""
    return mt.Compose(
        [
            *_load(["image", "label"], axcodes),
            *_crop(["image", "label"], crop_margin),
            *_resample(["image", "label"], spacing),
            LabelToChannelsd("label", schema),
            *normalise(intensity),
        ]
    )


def training_transforms(
    schema: LabelSchema,
    patch_size: Sequence[int],
    samples_per_case: int = 2,
    flip_axes: Sequence[int] | None = None,
    axcodes: str = "RAS",
    augment: bool | str = True,
    spacing: Sequence[float] | None = None,
    modality_dropout: RandModalityDropoutd | None = None,
    intensity: dict | None = None,
    foreground_share: float | None = None,
) -> mt.Compose:
    """Validation chain plus foreground-weighted patch sampling and augmentation.

    ``flip_axes`` defaults to the schema's ``mirror_axes``: every axis, less the left-right one when
    a label names a side. ``augment``: ``"nnunet"`` (spatial, intensity and resolution augmentation,
    ``augmentations.nnunet``), ``True``/``"light"`` (flips and small intensity changes),
    ``False``/``"none"`` (patch sampling only; used to compare one process with several on
    identical data). ``modality_dropout`` blanks sequences at random so the model also segments
    studies that lack some. ``foreground_share``: the share of patches centred on a labelled voxel
    (nnU-Net forces a third; ``None`` keeps the quick recipe's sampling, see ``_foreground_crop``).
    """
    keys = ["image", "label"]
    axes = schema.mirror_axes(len(patch_size)) if flip_axes is None else tuple(flip_axes)
    return mt.Compose(
        [
            *validation_transforms(schema, axcodes, spacing=spacing, intensity=intensity).transforms,
            mt.SpatialPadd(keys, spatial_size=list(patch_size)),
            *_foreground_crop(schema, keys, patch_size, samples_per_case, foreground_share),
            *augmentation(augment, keys, axes, len(patch_size)),
        ]
        + ([modality_dropout] if modality_dropout is not None and augment not in (False, "none") else [])
    )


def _foreground_crop(schema: LabelSchema, keys: list[str], patch_size: Sequence[int], samples: int,
                     share: float | None = None) -> list:
    """Patches centred on foreground 2 times in 3, or ``share`` of the time. Exclusive targets are
    one-hot, where every voxel is some class, so they sample per class (background weight 1, each label
    2; with ``share``, the labels split it equally) instead of "any channel".

    Overlapping targets get their foreground/background voxel indices computed once and cached with
    the volume, so each random crop is a lookup instead of a scan of the whole label.
    """
    if share is not None and not 0.0 < share < 1.0:
        raise ValueError(f"foreground_share must be between 0 and 1, got {share}")
    if schema.mode == "exclusive":
        ratios = schema.crop_ratios(share)
        return [mt.RandCropByLabelClassesd(
            keys, label_key="label", spatial_size=list(patch_size), ratios=ratios,
            num_classes=schema.num_channels, num_samples=samples, image_key="image", image_threshold=0,
            warn=False,
        )]
    return [
        mt.FgBgToIndicesd("label", image_key="image", image_threshold=0),
        mt.RandCropByPosNegLabeld(
            keys, label_key="label", spatial_size=list(patch_size), pos=2 if share is None else share,
            neg=1 if share is None else 1.0 - share, num_samples=samples,
            fg_indices_key="label_fg_indices", bg_indices_key="label_bg_indices",
        ),
    ]
