"""Fingerprints: the crop to the foreground, also for z-scored data whose background is not zero."""

from __future__ import annotations

import numpy as np

from medseg.planning.fingerprint import bounding_box_shape, fingerprint_case, foreground_mask, summarise


def head(background: float) -> np.ndarray:
    """Two channels, 40 x 30 x 20, a 20 x 10 x 8 'brain' of varied values on a constant background."""
    rng = np.random.default_rng(0)
    image = np.full((2, 40, 30, 20), background, dtype=np.float32)
    image[:, 10:30, 5:15, 6:14] = rng.normal(0.5, 1.0, size=(2, 20, 10, 8))
    return image


def test_zero_background_crops_to_the_brain():
    assert bounding_box_shape(foreground_mask(head(0.0))) == (20, 10, 8)


def test_z_scored_negative_background_crops_to_the_brain_not_the_volume():
    """BraTS 2015 as shipped by DeepMedic: background is a constant -3.5, so 'non-zero' is everything."""
    image = head(-3.5)
    assert bounding_box_shape(image[0] != 0) == (40, 30, 20)  # the naive rule keeps the whole volume
    assert bounding_box_shape(foreground_mask(image)) == (20, 10, 8)


def test_case_and_summary_statistics():
    label = np.zeros((40, 30, 20))
    label[12:16, 6:10, 8:10] = 2
    label[16:18, 6:10, 8:10] = 4
    case = fingerprint_case(head(-3.5), label, (1.0, 1.0, 2.0), np.random.default_rng(0))
    assert case.cropped_shape == (20, 10, 8) and case.spacing == (1.0, 1.0, 2.0)
    assert case.label_voxels == {2: 32, 4: 16}
    summary = summarise([case, case], ["flair", "t1ce"])
    assert summary.median_shape.tolist() == [20, 10, 8]
    assert summary.class_frequency == {"2": 32 / 1600, "4": 16 / 1600}
    assert abs(summary.intensity[0]["mean"] - 0.5) < 0.2 and summary.modalities == ["flair", "t1ce"]
    assert summary.median_shape_at((2.0, 2.0, 2.0)).tolist() == [10, 5, 8]
