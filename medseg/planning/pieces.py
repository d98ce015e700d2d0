"""The island rule of a new task: the smallest true piece of each structure, measured on its training masks.

A network leaves stray specks far from any structure (lung fields: HD95 63.6 px without a rule, 13.5 px
with one; ``benchmarks/RESULTS.md``). ``bundle new`` declares, per label, half the area (mm², or px² for
images without a pixel size) or volume (mm³) of the smallest connected piece the training masks hold; inference
(``PostProcessing(min_piece=...)``) removes smaller pieces. Half, so a true piece a little smaller than
any seen in training survives; the pixel size comes from each image, as inference measures it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from medseg.io.checks import read_header, voxels
from medseg.io.geometry import voxel_volume
from medseg.io.masks import is_bitmap, read_mask

SAMPLE = 40  # masks read
MARGIN = 0.5  # the rule is this share of the smallest piece seen


def pixel_size(image: Path, dims: int) -> float:
    """mm² (2D) or mm³ (3D) of one pixel of ``image`` from its header; 1 for a bitmap, which stores none (as
    ``Predictor.voxel_size`` measures it)."""
    if is_bitmap(image):
        return 1.0
    return voxel_volume(read_header(image, dims).affine, dims)


def smallest_pieces(images: Sequence[Path], masks: Sequence[Path], values: dict[str, int], dims: int,
                    read: Callable[[Path, tuple[int, ...]], np.ndarray] | None = None) -> dict[str, float]:
    """Per label name: ``MARGIN`` × its smallest connected piece (8/26-connectivity) in the sampled masks, in
    the units ``pixel_size`` gives. ``read(mask, image_shape)`` gives label values (default: 2D masks as
    stored, volumes as stored); labels no sampled mask holds get no rule."""
    from scipy import ndimage

    structure = np.ones((3,) * dims, bool)
    smallest: dict[str, float] = {}
    for image, mask in list(zip(images, masks))[:SAMPLE]:
        shape = read_header(image, dims).spatial[:dims]
        label = read(mask, shape) if read is not None else _read(mask, shape, dims)
        size = pixel_size(image, dims)
        for name, value in values.items():
            ids, count = ndimage.label(label == value, structure=structure)
            if count:
                area = float(np.bincount(ids.ravel())[1:].min()) * size
                smallest[name] = min(smallest.get(name, area), area)
    return {name: round(MARGIN * area, 4) for name, area in smallest.items()}


def _read(mask: Path, shape: tuple[int, ...], dims: int) -> np.ndarray:
    if dims == 2:
        return read_mask(mask, shape=shape)
    return np.rint(np.squeeze(voxels(read_header(mask, dims), label=True))).astype(np.int64)
