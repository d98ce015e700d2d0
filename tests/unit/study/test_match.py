"""The match check on synthetic heads with known motions (registration left out): this patient's sequence in
another contrast passes; mirrored, another patient's or turned 90°, it is refused naming the series."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from medseg.errors import InputError
from medseg.study.match import MAX_EDGE_RATIO, MatchCheck, edge_alignment, mutual_information
from medseg.study.register import image_centre
from medseg.study.simulate import Acquisition, acquire, mirrored

SHAPE = (64, 80, 56)  # (x, y, z) voxels of 2.5 mm: 160 x 200 x 140 mm


def _anatomy(seed: int) -> np.ndarray:
    """A brain-shaped ellipsoid of smooth random 'tissue' with a bright lesion on the patient's left, on a
    constant background of 0 (brain-extracted); (x, y, z) voxel order."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, n) for n in SHAPE], indexing="ij")
    brain = x ** 2 / 0.8 + y ** 2 / 0.85 + z ** 2 / 0.8 < 1
    tissue = ndimage.gaussian_filter(rng.normal(size=SHAPE), 2.0)
    tissue = 50 + 15 * tissue / tissue.std()
    tissue[(x - 0.35) ** 2 + (y - 0.1) ** 2 + (z - 0.1) ** 2 < 0.04] += 40  # +x voxels are the patient's left
    return np.where(brain, tissue, 0.0).astype(np.float32)


def _image(array: np.ndarray):
    """LPS image: x voxels run right to left, as sitk and the BraTS files have it."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
    image.SetSpacing((2.5, 2.5, 2.5))
    image.SetOrigin((-80.0, -100.0, -70.0))
    return image


def _contrast(image):
    """Another sequence of the same anatomy: a monotone remapping (dark where the reference is bright)."""
    return sitk.Mask(200.0 - 2.0 * image, sitk.Cast(image > 0, sitk.sitkUInt8))


@pytest.fixture(scope="module")
def reference():
    image = _image(_anatomy(0))
    return image, MatchCheck(image)


def _registered(reference, source, rotation=(0.0, 0.0, 0.0)):
    """``source`` acquired as a moved patient (12°, 15 mm; on a coarser grid) and its exact transform."""
    fixed, _ = reference
    acquisition = Acquisition((5.0, -4.0, 12.0 + rotation[2]), (10.0, -8.0, 6.0), (3.0, 3.0, 4.0))
    moving, motion = acquire(source, acquisition, image_centre(fixed))
    if rotation[2]:  # the header claims the motion without the turn: registration would end near it
        motion = Acquisition((5.0, -4.0, 12.0), (10.0, -8.0, 6.0), (3.0, 3.0, 4.0)).transform(image_centre(fixed))
    return moving, motion


def test_the_same_patient_in_another_contrast_passes(reference):
    fixed, check = reference
    moving, motion = _registered(reference, _contrast(fixed))
    match = check.check(moving, motion, "flair", "flair.nii.gz")
    assert match.edge_ratio <= MAX_EDGE_RATIO and match.mutual_information > 0.3


def test_a_mirrored_sequence_is_refused_as_mirrored(reference):
    fixed, check = reference
    moving, motion = _registered(reference, mirrored(_contrast(fixed)))
    with pytest.raises(InputError) as err:
        check.check(moving, motion, "flair", "study/flair.nii.gz")
    assert str(err.value).startswith("study/flair.nii.gz: flair seems mirrored left-right: once registered it fits "
                                     "the reference better mirrored back (edge alignment ")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("wrong", ["another patient", "turned 90°"])
def test_another_patient_or_a_turned_sequence_is_refused(reference, wrong):
    fixed, check = reference
    if wrong == "another patient":
        moving, motion = _registered(reference, _contrast(_image(_anatomy(1))))
    else:
        moving, motion = _registered(reference, _contrast(fixed), rotation=(0.0, 0.0, 90.0))
    with pytest.raises(InputError) as err:
        check.check(moving, motion, "t2", "series 1.2 ('t2_tse')")
    assert str(err.value).startswith("series 1.2 ('t2_tse'): t2 does not match the reference once registered: its "
                                     "mirror image fits about as well")


def test_the_mid_plane_follows_a_turned_head(reference):
    """Reference and sequence turned 15° together (yaw): the mirror image is taken about the head's own
    mid-plane, so a right sequence still passes and a mirrored one is still called mirrored."""
    fixed, _ = reference
    turn = Acquisition((0.0, 0.0, 15.0), (0.0, 0.0, 0.0), (2.5, 2.5, 2.5))
    turned, _ = acquire(fixed, turn, image_centre(fixed))
    check = MatchCheck(turned)
    for source, verdict in ((_contrast(fixed), "passes"), (mirrored(_contrast(fixed)), "mirrored")):
        # the head turned after mirroring: mirrored about its own mid-plane, as a flipped conversion leaves it
        moving, motion = _registered((turned, check), acquire(source, turn, image_centre(fixed))[0])
        if verdict == "passes":
            check.check(moving, motion, "flair", "flair")
        else:
            with pytest.raises(InputError, match="seems mirrored"):
                check.check(moving, motion, "flair", "flair")


def test_measures():
    rng = np.random.default_rng(0)
    a = ndimage.gaussian_filter(rng.normal(size=(30, 30, 30)), 2)
    mask = np.ones(a.shape, bool)
    # the same edges in another contrast (flat voxels weigh less, so below 1); unrelated edges: 1/3, the mean
    # squared cosine of random directions in 3D
    assert edge_alignment(a, -3 * a + 5, mask) > 0.8
    assert edge_alignment(a, ndimage.gaussian_filter(rng.normal(size=a.shape), 2), mask) < 0.4
    assert mutual_information(a.ravel(), np.exp(a).ravel()) > 1.0 > mutual_information(a.ravel(), rng.normal(
        size=a.size))
