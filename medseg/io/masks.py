"""2D masks as users have them: binary {0,255}, palette PNGs, RGB colour codes, structure = 0, other sizes.

A ``MaskCoding`` says how stored mask values (grey levels, palette indices or RGB colours) become
label values; ``medseg.io.coding`` works it out from the masks and the user's ``--labels``. Arrays follow
MONAI's PILReader convention: axis 0 is the column (x), axis 1 the row (y).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medseg.errors import InputError
from medseg.io.validate import read_voxels

BITMAP_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SAMPLE = 200  # masks read to learn their values
BINARY_THRESHOLD = 128  # 8-bit binary masks: resized edges carry intermediate values
Colour = tuple[int, int, int]


def is_bitmap(path: str | Path) -> bool:
    return str(path).lower().endswith(BITMAP_SUFFIXES)


@dataclass(frozen=True)
class MaskCoding:
    """Stored mask values → label values.

    ``values``: grey level or palette index → label (unlisted values are errors, except 0 → 0);
    ``colours``: RGB → label (unlisted colours are errors, except black → 0);
    ``threshold``: binary masks, label 1 where ``stored >= threshold`` (``< threshold`` when ``inverted``).
    An empty coding keeps the stored values.
    """

    values: dict[int, int] = field(default_factory=dict)
    colours: dict[Colour, int] = field(default_factory=dict)
    threshold: int | None = None
    inverted: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.values:
            out["values"] = {str(k): v for k, v in sorted(self.values.items())}
        if self.colours:
            out["colours"] = [[*c, v] for c, v in self.colours.items()]
        if self.threshold is not None:
            out["threshold"], out["inverted"] = self.threshold, self.inverted
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> MaskCoding:
        raw = raw or {}
        return cls({int(k): int(v) for k, v in raw.get("values", {}).items()},
                   {(int(r), int(g), int(b)): int(v) for r, g, b, v in raw.get("colours", [])},
                   raw.get("threshold"), bool(raw.get("inverted", False)))

    def label_map(self, found: Sequence[int]) -> dict[int, int]:
        """The coding as a manifest's ``label_map`` (stored value → label value) for grey values ``found``: a
        threshold lists every 8-bit value, unless the masks hold one non-zero value, which alone maps to 1."""
        if self.threshold is None:
            return dict(self.values)
        nonzero = [v for v in found if v]
        values = nonzero if len(nonzero) == 1 else range(1, 256)
        return {v: int((v < self.threshold) if self.inverted else (v >= self.threshold)) for v in values}

    def apply(self, stored: np.ndarray, path: str | Path | None = None) -> np.ndarray:
        """Label values (int64, spatial shape) from stored values ((x, y) or (x, y, 3) for colour)."""
        if stored.ndim == 3:
            return self._apply_colours(stored, path)
        if self.colours:
            raise InputError("mask is grey but the bundle's masks are colour-coded (--labels NAME=R,G,B)", path)
        stored = stored.astype(np.int64)
        if self.threshold is not None:
            return ((stored < self.threshold) if self.inverted else (stored >= self.threshold)).astype(np.int64)
        if not self.values:
            return stored
        unknown = sorted(set(np.unique(stored).tolist()) - set(self.values) - {0})
        if unknown:
            raise InputError(f"mask values {unknown[:8]} are not in the coding {sorted(self.values)}", path)
        out = np.zeros_like(stored)
        for value, label in self.values.items():
            out[stored == value] = label
        return out

    def _apply_colours(self, rgb: np.ndarray, path: str | Path | None) -> np.ndarray:
        if not self.colours:
            raise InputError("mask is an RGB image; name each label's colour: --labels NAME=R,G,B ...", path)
        packed = pack_rgb(rgb)
        out = np.zeros(packed.shape, np.int64)
        known = np.zeros(packed.shape, bool)
        for colour, label in {(0, 0, 0): 0, **self.colours}.items():
            hit = packed == pack_rgb(np.asarray(colour))
            out[hit], known[hit] = label, True
        if not known.all():
            missing = {tuple(int(c) for c in rgb[tuple(i)]) for i in np.argwhere(~known)[:1000]}
            raise InputError(f"{int((~known).sum())} pixel(s) have colours outside the colour table, e.g. "
                             f"{sorted(missing)[:3]}", path)
        return out


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """RGB triples as one integer each, so colours compare and count as values."""
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def read_stored(path: str | Path) -> np.ndarray:
    """A mask's stored values, (x, y): grey levels, palette indices (not colours), or (x, y, 3) RGB.

    An RGB file whose three channels agree is grey; NIfTI masks drop their singleton axes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    if not is_bitmap(path):
        array = np.asarray(read_voxels(path))
        squeezed = np.squeeze(array)
        if squeezed.ndim != 2:
            raise InputError(f"expected a 2D mask, got shape {array.shape}", path)
        return np.rint(squeezed).astype(np.int64)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
                array = np.asarray(image).astype(np.int64)
            else:
                array = np.asarray(image.convert("RGB")).astype(np.int64)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"not a readable image ({exc})", path) from exc
    if array.ndim == 3 and (array == array[..., :1]).all():
        array = array[..., 0]
    return np.ascontiguousarray(np.swapaxes(array, 0, 1))


def read_mask(path: str | Path, coding: MaskCoding | None = None, shape: Sequence[int] | None = None) -> np.ndarray:
    """Label values (x, y) of one 2D mask; resized by nearest neighbour onto ``shape`` when it differs.

    A mask at another size than its image (SCR masks are half size) must cover the same field:
    the aspect ratio has to agree within 1 %.
    """
    label = (coding or MaskCoding()).apply(read_stored(path), path)
    if shape is not None and tuple(label.shape) != tuple(shape):
        label = resize_nearest(label, shape, path)
    return label


def read_structure_masks(paths: Sequence[str | Path], names: Sequence[str], shape: Sequence[int] | None = None,
                         coding: MaskCoding | None = None) -> np.ndarray:
    """One binary mask file per structure (SCR stores one PNG each), as (C, x, y) bool; overlaps kept.

    Bitmaps are thresholded (``coding``'s threshold, else ``BINARY_THRESHOLD``: resized edges carry
    intermediate values), NIfTI masks are ``> 0``. All land on ``shape`` (default: the first mask's).
    """
    if len(paths) != len(names):
        raise InputError(f"{len(paths)} mask file(s) for this case, the bundle needs {len(names)} "
                         f"(one per structure: {', '.join(names)})", paths[0] if paths else None)
    binary = coding if coding is not None and coding.threshold is not None else MaskCoding(threshold=BINARY_THRESHOLD)
    masks: list[np.ndarray] = []
    for path in paths:
        mask = read_mask(path, binary if is_bitmap(path) else None) > 0
        target = tuple(shape) if shape is not None else masks[0].shape if masks else mask.shape
        masks.append(mask if mask.shape == target else resize_nearest(mask, target, path))
    return np.stack(masks)


def resize_nearest(label: np.ndarray, shape: Sequence[int], path: str | Path | None = None) -> np.ndarray:
    """Nearest-neighbour resize of a 2D label map to ``shape``, refusing a different aspect ratio."""
    if abs(label.shape[0] / label.shape[1] - shape[0] / shape[1]) > 0.01 * shape[0] / shape[1]:
        raise InputError(f"mask size {tuple(label.shape)} does not cover the image {tuple(shape)} "
                         "(aspect ratio differs)", path)
    rows = (np.arange(shape[0]) + 0.5) * label.shape[0] / shape[0]
    cols = (np.arange(shape[1]) + 0.5) * label.shape[1] / shape[1]
    return label[np.minimum(rows.astype(int), label.shape[0] - 1)][:, np.minimum(cols.astype(int), label.shape[1] - 1)]
