"""Small 2D masks and the files they are saved as, shared by the mask reading and coding tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def shape_mask(h: int = 12, w: int = 16) -> np.ndarray:
    """A 12 x 16 (rows, cols) map: a block of label 1 above a band of label 2."""
    mask = np.zeros((h, w), np.uint8)
    mask[3:8, 4:10] = 1
    mask[8:, :] = 2
    return mask


def save_image(folder: Path, name: str, array: np.ndarray, mode: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(path)
    return path
