"""Intensity normalisation of a new 3D task by image type (nnU-Net's rule), for ``medseg bundle new``.

CT holds Hounsfield units, comparable across scanners: clip to the 0.5–99.5th percentiles of the
labelled voxels over the dataset and z-score with their mean and standard deviation, the same for
every case. Anything else (MR) is z-scored per image over its non-zero foreground. Spacing, patch,
network and schedule are the general planner's (``medseg.planning``), which ``medseg train`` runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medseg.io.read import is_nifti

SAMPLE = 20  # cases read
VOXELS_PER_CASE = 20000  # foreground voxels kept per case for the statistics
CT_FLOOR = -500.0  # a 0.5th percentile below this is air in Hounsfield units: CT


def volume_intensity(images: Sequence[Path], labels: Sequence[Path], ignore: int | None = None) -> dict[str, Any]:
    """``{"kind": "ct", "clip": [lo, hi], "mean": m, "std": s}`` for CT, else ``{"kind": "mr"}``; ``ignore``:
    the stored void value, whose voxels are nobody's (unoutlined slices are not labelled tissue)."""
    import nibabel as nib

    rng = np.random.default_rng(0)
    samples = []
    for image, label in list(zip(images, labels))[:SAMPLE]:
        if not (is_nifti(image) and is_nifti(label)):
            return {"kind": "mr"}
        data = np.asarray(nib.load(image).dataobj, dtype=np.float32)
        stored = np.asarray(nib.load(label).dataobj)
        mask = (stored > 0) & (stored != ignore) if ignore is not None else stored > 0
        if data.shape != mask.shape or np.percentile(data, 0.5) > CT_FLOOR:
            return {"kind": "mr"}  # several channels, or no air: not CT
        foreground = data[mask]
        if foreground.size:
            samples.append(rng.choice(foreground, min(foreground.size, VOXELS_PER_CASE), replace=False))
    if not samples:
        return {"kind": "mr"}
    values = np.concatenate(samples)
    low, high = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    clipped = np.clip(values, low, high)
    return {"kind": "ct", "clip": [round(low, 1), round(high, 1)], "mean": round(float(clipped.mean()), 2),
            "std": round(max(float(clipped.std()), 1e-3), 2)}


def describe(intensity: dict[str, Any]) -> str:
    if intensity.get("kind") == "ct":
        low, high = intensity["clip"]
        return (f"normalisation: CT: clip to [{low:g}, {high:g}] HU (0.5–99.5th percentiles of the labelled "
                f"voxels), z-score with mean {intensity['mean']:g}, std {intensity['std']:g}")
    return "normalisation: MR: z-score per image over its non-zero foreground"
