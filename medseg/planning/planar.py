"""Plan a 2D task from its data (a small fingerprint and rules, nnU-Net style), for ``medseg bundle new``.

The fingerprint reads the images' headers and a sample of masks: size, channels, bit depth,
pixel spacing, the share of foreground and how thin the structures are. The rules turn it into
what ``train.json``/``inference.json`` need: native resolution (spacing 1 px, no resize) with
patches and a sliding window when images are large, except scene photographs, which train whole at
half resolution; normalisation by image type; batch and
schedule; and augmentation: flips only when no label has a side (left/right), rotation and
scaling, elastic deformation for thin structures, colour jitter for photographs.
These rules are kept apart so the general planner (``medseg plan``) can absorb them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medseg.errors import InputError
from medseg.io.checks import read_header
from medseg.io.masks import MaskCoding, read_mask
from medseg.labels import VOID

SAMPLE = 40  # images and masks read for the fingerprint
PIXELS_PER_BATCH = 2**17  # patch² × batch on CPU: the plain reference's 8 × 128² that fits 2 cores
MAX_PATCH = 256
# Scene photographs (RGB, no thin structures) whose shorter side is above MAX_PATCH train whole at half
# resolution: CamVid validation (480×360, 5 CPU-min) pooled mIoU 0.326 against 0.225 on native 176² patches.
SCENE_FACTOR = 2
HANDED = re.compile(r"\b(left|right|lt|rt|l|r)\b", re.IGNORECASE)
THIN = 0.2  # edge share above which structures count as thin (membranes 0.27, lungs 0.02)


@dataclass
class Fingerprint2D:
    n_cases: int
    median_size: tuple[int, int]  # (x, y) pixels
    channels: int
    bits: int  # 8 or 16 (grey), 8 per channel for RGB
    spacing: tuple[float, float]  # mm from a NIfTI header, else 1 px
    foreground: float  # share of pixels inside any label
    edge_share: float  # share of foreground pixels on its boundary (1 = one-pixel-wide lines)


@dataclass
class Plan2D:
    image_type: str
    spacing: tuple[float, float]
    resize: list[int] | None
    patch_size: list[int]
    batch_size: int
    samples_per_case: int
    flip_axes: list[int]
    rotate: float
    scale: float
    elastic: bool
    colour_jitter: bool
    learning_rate: float
    epochs: int
    val_interval: int
    validation_fraction: float
    sw_overlap: float
    handed: bool
    fingerprint: dict[str, Any]
    scene: bool = False  # a scene photograph, planned whole at 1/SCENE_FACTOR resolution

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The plan as a reader checks it (printed by ``bundle new`` and ``medseg plan``)."""
        fp = self.fingerprint
        size = "x".join(map(str, fp["median_size"]))
        where = ("native resolution (spacing " + " × ".join(f"{s:g}" for s in self.spacing)
                 + (" mm" if fp["spacing"] != [1.0, 1.0] else " px") + ", no resize)") if not self.resize else \
            f"resized to {self.resize[0]}×{self.resize[1]}" + (
                f" (1/{SCENE_FACTOR} resolution: scene photographs train whole, each view in one patch; "
                "--image-size to choose)" if self.scene else "")
        flips = f"flips on axes {self.flip_axes}" if self.flip_axes else "no flips (labels have a side)" \
            if self.handed else "no flips"
        return [
            f"data: {fp['n_cases']} cases, median {size} px, {fp['channels']} channel(s), {fp['bits']}-bit, "
            f"foreground {100 * fp['foreground']:.1f} %, edge share {fp['edge_share']:.2f}",
            f"plan: {where}; patches {self.patch_size[0]}×{self.patch_size[1]}, sliding window "
            f"(overlap {self.sw_overlap:g}) at inference",
            f"normalisation: {NORMALISATION[self.image_type]}",
            f"training: batch {self.batch_size} ({self.samples_per_case} patch(es) per image), Adam lr "
            f"{self.learning_rate:g} with polynomial decay, {self.epochs} epochs (or --time-limit), "
            f"validation every {self.val_interval} on {100 * self.validation_fraction:.0f} % of the cases",
            f"augmentation: rotation ±{np.rad2deg(self.rotate):.0f}°, scaling ±{100 * self.scale:.0f} %, {flips}"
            + (", elastic deformation (thin structures)" if self.elastic else "")
            + (", colour jitter (photographs)" if self.colour_jitter else ""),
        ]


NORMALISATION = {
    "rgb": "RGB photographs: z-score per colour channel",
    "grey8": "8-bit grey: z-score per image",
    "grey16": "16-bit grey: clip to the 0.5–99.5 percentiles, then z-score",
}


def has_handedness(label_names: Sequence[str]) -> bool:
    """A label names a side (``left lung``, ``right_clavicle``, ``kidney_L``): mirror images would swap them."""
    return any(HANDED.search(name.replace("_", " ").replace("-", " ")) for name in label_names)


def fingerprint(images: Sequence[Path], masks: Sequence[Path], coding: MaskCoding) -> Fingerprint2D:
    """Sizes, channels and bit depth from the image headers; foreground and thinness from sampled masks."""
    from scipy import ndimage

    sizes, channels, bits, spacing = [], 1, 8, (1.0, 1.0)
    for path in images[:SAMPLE]:
        header = read_header(path, 2)
        sizes.append(header.spatial[:2])
        channels = header.channels
        image = header.image
        if hasattr(image, "mode"):
            bits = 16 if image.mode in ("I", "I;16", "I;16B", "I;16L", "F") else 8
        else:
            bits = 8 if np.dtype(image.get_data_dtype()).itemsize == 1 else 16
            spacing = tuple(float(z) for z in image.header.get_zooms()[:2])
    fg = edge = total = 0
    for path, image_size in zip(masks[:SAMPLE], sizes):
        label = read_mask(path, coding, shape=image_size)
        label = (label > 0) & (label != VOID)  # void pixels are nobody's foreground
        eroded = ndimage.binary_erosion(label)
        fg, edge, total = fg + int(label.sum()), edge + int((label & ~eroded).sum()), total + label.size
    if not sizes:
        raise InputError("no images to plan from")
    median = tuple(int(v) for v in np.median(np.asarray(sizes), axis=0))
    return Fingerprint2D(len(images), median, channels, bits, spacing, fg / max(total, 1), edge / max(fg, 1))


def plan_2d(fp: Fingerprint2D, label_names: Sequence[str], resize: int | None = None) -> Plan2D:
    """Rules from the fingerprint to a training/inference plan."""
    image_type = "rgb" if fp.channels == 3 else "grey16" if fp.bits == 16 else "grey8"
    thin = fp.edge_share >= THIN
    # A road or street scene is read from its layout (sky above buildings above road): a 176² native patch
    # of a 480×360 frame sees too little of it, the whole frame at half resolution sees all of it.
    scene = not resize and image_type == "rgb" and not thin and min(fp.median_size) > MAX_PATCH
    working = (resize, resize) if resize else \
        tuple(round(s / SCENE_FACTOR) for s in fp.median_size) if scene else fp.median_size
    # Patches of half the image side (multiples of 16 for 4 poolings, 128–256): several distinct views of
    # each image per epoch, and a 3×3 sliding window at inference; small images and scenes train whole.
    side = min(working)
    whole = side <= 128 or scene
    patch = MAX_PATCH * 4 if whole else int(np.clip(round(side / 2 / 16) * 16, 128, MAX_PATCH))
    patch_size = [min(patch, int(np.ceil(w / 16) * 16)) for w in working]
    batch = int(np.clip(PIXELS_PER_BATCH // (patch_size[0] * patch_size[1]), 2, 16))
    samples = int(np.clip(batch // 2, 1, 4))
    handed = has_handedness(label_names)
    # Thin structures in grey micrographs have no up or down: any rotation, both flips. Everything
    # else is taken as upright (photographs, radiographs): small rotations, left-right flips only.
    free = thin and fp.channels == 1 and not handed
    # Validation slides over whole images: hold out 20 % but at most the pixels of eight 512² images.
    validation_fraction = float(min(0.2, max(1, 8 * 512 * 512 // (working[0] * working[1])) / fp.n_cases))
    return Plan2D(
        image_type=image_type, spacing=fp.spacing, resize=list(working) if resize or scene else None,
        patch_size=patch_size, batch_size=batch, samples_per_case=samples,
        flip_axes=[] if handed else [0, 1] if free else [0],
        rotate=float(np.deg2rad(180.0 if free else 15.0)), scale=0.15, elastic=thin,
        colour_jitter=image_type == "rgb", learning_rate=1e-3, epochs=200,
        val_interval=5, validation_fraction=round(validation_fraction, 4), sw_overlap=0.5,
        handed=handed, fingerprint={k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(fp).items()},
        scene=scene,
    )


def stored_plan(metadata: dict[str, Any]) -> Plan2D | None:
    """The 2D plan ``bundle new`` kept in a bundle's metadata (``medseg.plan``), if any."""
    raw = metadata.get("medseg", {}).get("plan")
    if not isinstance(raw, dict) or "image_type" not in raw:
        return None
    return Plan2D(**{**raw, "spacing": tuple(raw["spacing"])})
