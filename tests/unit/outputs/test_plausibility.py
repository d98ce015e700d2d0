"""Sanity figures travel with every case's measurements; gross failures are flagged."""

import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.outputs.plausibility import PlausibilityLimits, brain_mask, sanity_figures

LIMITS = PlausibilityLimits("WT", max_fraction_of_brain=0.3, max_components=3, max_outside_brain=0.05)


def _brain(background: float = 0.0) -> np.ndarray:
    image = np.full((40, 40, 40), background, np.float32)
    image[5:35, 5:35, 5:35] = 1.0 + np.random.default_rng(0).random((30, 30, 30))
    return image


@pytest.fixture(scope="module")
def schema():
    return find_bundle("brain_tumor").schema


def test_a_plausible_tumour_has_figures_and_no_warning(schema):
    label = np.zeros((40, 40, 40), np.uint8)
    label[10:18, 10:18, 10:18] = 2
    label[12:16, 12:16, 12:16] = 4
    figures, reasons = sanity_figures(label, _brain(), 0.001, schema, LIMITS)
    assert reasons == [] and figures["plausible"]
    assert figures["brain_ml"] == pytest.approx(27.0)  # 30^3 voxels of 1 µL
    assert figures["lesion_ml"] == pytest.approx(0.512)
    assert figures["components"]["WT"] == 1 and figures["components"]["ET"] == 1


def test_a_tumour_the_size_of_the_brain_is_flagged(schema):
    label = np.zeros((40, 40, 40), np.uint8)
    label[5:35, 5:35, 5:30] = 2  # the phantom-trained model's 1020 mL on a real brain looked like this
    figures, reasons = sanity_figures(label, _brain(), 0.001, schema, LIMITS)
    assert not figures["plausible"]
    assert any("83% of the 27 mL brain (limit 30%)" in r for r in reasons)


def test_scattered_pieces_and_tumour_outside_the_brain_are_flagged(schema):
    label = np.zeros((40, 40, 40), np.uint8)
    for i in range(5):
        label[6 + 6 * i, 6:8, 6:8] = 2
    label[0:2, 0:2, 0:4] = 2  # outside the head
    _, reasons = sanity_figures(label, _brain(), 0.001, schema, LIMITS)
    assert any("WT is in 6 pieces (limit 3)" in r for r in reasons)
    assert any("outside the brain" in r for r in reasons)


def test_brain_of_data_z_scored_upstream():
    image = _brain(background=-3.5)  # BraTS 2015 as shipped: constant negative background
    assert brain_mask(image).sum() == 30 ** 3
    assert brain_mask(_brain()).sum() == 30 ** 3
