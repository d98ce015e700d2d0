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


def _bundle_limits() -> PlausibilityLimits:
    """The limits brain_tumor's measurement writer declares."""
    import json

    config = json.loads(find_bundle("brain_tumor").config_files("inference")[0].read_text())
    writer = next(w for w in config["writers"] if "plausibility" in w)
    return PlausibilityLimits(**writer["plausibility"])


def test_the_bundle_limits_pass_every_expert_mask_and_flag_twice_the_largest(shared_data, schema):
    """Calibration of issue 21: the real expert WT masks (3.8-20.1 % of the brain, 1-9 pieces) are all
    plausible under the shipped limits, while a mask twice the size of the largest is flagged."""
    import nibabel as nib
    from scipy import ndimage

    limits = _bundle_limits()
    segs = sorted(shared_data.glob("brats*/*/*_seg.nii.gz"))
    assert len(segs) == 8
    fractions = []
    for seg in segs:
        case = seg.parent
        label = (np.asarray(nib.load(seg).dataobj) > 0).astype(np.uint8) * 2  # WT: any tumour label (2015 has 3)
        image = np.asarray(nib.load(next(case.glob("*_flair.nii.gz"))).dataobj, np.float32)
        figures, reasons = sanity_figures(label, image, 0.001, schema, limits)
        assert reasons == [], f"{case.name}: {reasons}"
        fractions.append(figures["lesion_fraction_of_brain"])
    largest = segs[int(np.argmax(fractions))]
    label = np.asarray(nib.load(largest).dataobj) > 0
    image = np.asarray(nib.load(next(largest.parent.glob("*_flair.nii.gz"))).dataobj, np.float32)
    brain = brain_mask(image)
    grown = label.copy()
    while grown.sum() < 2 * label.sum():
        grown = ndimage.binary_dilation(grown) & brain
    _, reasons = sanity_figures(grown.astype(np.uint8) * 2, image, 0.001, schema, limits)
    assert any("of the" in r and "brain (limit 25%)" in r for r in reasons)
