"""2D masks as stored, read onto their image's grid."""

import numpy as np
import pytest

from medseg.errors import InputError
from medseg.io.masks import read_mask
from tests.mask_helpers import save_image, shape_mask


def test_mask_at_another_size_is_resized_onto_the_image(tmp_path):
    big = np.kron(shape_mask(), np.ones((2, 2), np.uint8))  # 24 x 32
    path = save_image(tmp_path / "m", "a.png", shape_mask())
    np.testing.assert_array_equal(read_mask(path, shape=(32, 24)).T, big)
    with pytest.raises(InputError, match="aspect ratio differs"):
        read_mask(path, shape=(32, 32))
