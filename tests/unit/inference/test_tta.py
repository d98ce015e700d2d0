"""Flip TTA: exact for flip-equivariant networks, and left/right-aware for lateral structures."""

import numpy as np
import torch

from medseg.data.inputs import resolve_case
from medseg.data.synthetic import make_phantom, save_phantom
from medseg.inference.tta import FlipTTA
from tests.unit.inference.test_predictor import MODALITIES, _predictor


def _lateral_model(image: torch.Tensor) -> torch.Tensor:
    """Probabilities (background, right structure, left structure) of bright voxels by side of axis 0."""
    n = image.shape[1]
    side = torch.sigmoid(3.0 * (torch.arange(n, dtype=torch.float32) - (n - 1) / 2)).view(n, 1, 1)
    bright = torch.sigmoid(4.0 * (image[0] - 0.5))
    return torch.stack([1 - bright, bright * side, bright * (1 - side)])


def test_left_right_swap_makes_tta_exact_for_a_lateral_model():
    image = torch.rand(1, 8, 6, 5, generator=torch.Generator().manual_seed(0))
    reference = _lateral_model(image)
    aware = FlipTTA(axes=[0], lateral_axis=0, swap_channels=[[1, 2]])(_lateral_model, image)
    torch.testing.assert_close(aware, reference)
    naive = FlipTTA(axes=[0], lateral_axis=0)(_lateral_model, image)  # blurs left into right
    assert (naive[1] - reference[1]).abs().max() > 0.3
    torch.testing.assert_close(naive[1] + naive[2], reference[1] + reference[2])


def test_tta_in_the_predictor_keeps_geometry(tmp_path):
    """A voxelwise network is flip-equivariant: TTA must give the same result, on the same grid."""
    save_phantom(make_phantom(4, "oblique", spacing=4.0), tmp_path / "case", "case")
    case = resolve_case(tmp_path / "case", MODALITIES)
    plain = _predictor().predict(case)
    tta = _predictor(tta=FlipTTA()).predict(case)
    np.testing.assert_allclose(tta.probabilities, plain.probabilities, atol=1e-5)
    np.testing.assert_array_equal(tta.label, plain.label)
