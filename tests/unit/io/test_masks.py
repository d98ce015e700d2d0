"""2D masks as stored, read onto their image's grid."""

import numpy as np
import pytest
from PIL import Image

from medseg.errors import InputError
from medseg.io.masks import read_mask


def _shape_mask(h=12, w=16):
    mask = np.zeros((h, w), np.uint8)
    mask[3:8, 4:10] = 1
    mask[8:, :] = 2
    return mask  # rows, cols


def _save(folder, name, array, mode=None):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(path)
    return path


def test_mask_at_another_size_is_resized_onto_the_image(tmp_path):
    big = np.kron(_shape_mask(), np.ones((2, 2), np.uint8))  # 24 x 32
    path = _save(tmp_path / "m", "a.png", _shape_mask())
    np.testing.assert_array_equal(read_mask(path, shape=(32, 24)).T, big)
    with pytest.raises(InputError, match="aspect ratio differs"):
        read_mask(path, shape=(32, 32))
