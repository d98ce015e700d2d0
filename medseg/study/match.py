"""Does a registered sequence really show the reference's anatomy? Refuse a mirrored, misoriented or foreign scan.

Registration always ends somewhere. A FLAIR mirrored left-right, turned 90° in its header, or taken
from another patient still lands inside the motion limits (a 90° turn ended at 21° and 33 mm), and its
final Mattes MI says little: it is dominated by the outline of the head, which any brain fills, and
its level depends on the pair of contrasts (T1 against T1ce shares far more than T2 against T1ce).
So every registered sequence is measured against the reference on a ``GRID_MM`` grid, inside both
brains (voxels above each image's constant background, eroded by ``ERODE_MM`` so the outline does
not count), as registered and mirrored about the reference brain's own mid-plane:

* ``edges``: how well the two images' edges run alike (``edge_alignment``, normalised gradient
  fields), whatever the contrasts: sulci, ventricles, the tumour's rim;
* ``mutual_information`` (``BINS`` bins), reported beside it.

The mid-plane is the reflection left-right through the brain's centroid, refined once per study by
aligning the brain's outline with its mirror image (a head turned in the scanner has its mid-plane
turned too). What tells is the ratio ``edge_ratio`` = mirrored / as registered, whatever the pair of
contrasts: this patient's sequence, correctly oriented and registered, loses a fifth to a third of its
edge alignment when mirrored (the asymmetries of a real brain, a tumour above all, no longer line
up); another patient's scan or a misoriented one lines up only coarsely and its mirror image fits as
well (ratio ≈ 1); a mirrored one fits better mirrored back (ratio above 1). Calibrated on the real
cases in ``../shared/data`` (correct, mirrored, turned 90° and other-patient versions of every
sequence of both BraTS 2018 cases and of the FLAIR of the six BraTS 2015 cases;
``benchmarks/registration_check.py``, table in ``benchmarks/RESULTS.md``): correct 0.70–0.83,
another patient or turned 90° 0.97–1.03, mirrored 1.18–1.40. Wrong sequences cluster tightly at 1
(nothing specific lines up either way) while right ones spread with the brain's asymmetry (the nearly
symmetric synthetic phantoms of ``medseg.data.synthetic`` reach 0.93), so ``MAX_EDGE_RATIO`` sits
about as many spreads from each side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.study.register import RegistrationError
from medseg.study.register import motion as motion_of

GRID_MM = 2.0
BINS = 32
ERODE_MM = 4.0
EDGE_NOISE = 0.2
MAX_EDGE_RATIO = 0.93  # accepted up to here (Match.edge_ratio)
MIRRORED_EDGE_RATIO = 1.10  # refused as mirrored from here on
MIN_BRAIN_VOXELS = 1000  # at GRID_MM: below this the two brains barely overlap
SYMMETRY_SAMPLES = 20_000
MAX_SYMMETRY_TURN_DEG = 30.0  # the mirror of a head turned by 15° is turned by 30°
MAX_SYMMETRY_SHIFT_MM = 20.0


@dataclass(frozen=True)
class Match:
    """How a registered sequence fits the reference inside the brain, as it is and mirrored about the mid-plane."""

    edges: float  # edge alignment (``edge_alignment``), 0–1
    mirrored_edges: float
    mutual_information: float  # nats
    mirrored_mutual_information: float

    @property
    def edge_ratio(self) -> float:
        """Mirrored / as registered: well below 1 for this patient's sequence, ≈ 1 for a wrong one, above 1
        for a mirrored one."""
        return self.mirrored_edges / self.edges if self.edges > 0 else float("inf")

    @property
    def information_ratio(self) -> float:
        return (self.mirrored_mutual_information / self.mutual_information if self.mutual_information > 0
                else float("inf"))


def mutual_information(a: np.ndarray, b: np.ndarray, bins: int = BINS) -> float:
    """Mutual information (nats) of two samples, each binned over its own 1st–99th percentile."""
    def binned(x: np.ndarray) -> np.ndarray:
        low, high = np.percentile(x, [1, 99])
        return np.clip(((x - low) / max(float(high - low), 1e-12) * bins).astype(int), 0, bins - 1)

    joint = np.bincount(binned(a) * bins + binned(b), minlength=bins * bins).reshape(bins, bins).astype(float)
    joint /= joint.sum()
    independent = np.outer(joint.sum(1), joint.sum(0))
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / independent[nonzero])))


def edge_alignment(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared cosine of the angle between the two images' gradients inside ``mask`` (normalised gradient
    fields, Haber & Modersitzki 2006): edges that run alike count, whatever the contrasts; flat regions
    (gradients below ``EDGE_NOISE`` of the mean) count little."""
    ga, gb = np.gradient(a), np.gradient(b)
    dot = sum(x[mask] * y[mask] for x, y in zip(ga, gb))
    na, nb = sum(x[mask] ** 2 for x in ga), sum(y[mask] ** 2 for y in gb)
    ea, eb = (EDGE_NOISE * np.mean(np.sqrt(na))) ** 2, (EDGE_NOISE * np.mean(np.sqrt(nb))) ** 2
    return float(np.mean(dot ** 2 / ((na + ea) * (nb + eb)))) if mask.any() else 0.0


def _background(image) -> float:
    import SimpleITK as sitk

    return float(sitk.GetArrayViewFromImage(image).min())


def _foreground(array: np.ndarray, background: float) -> np.ndarray:
    """Voxels above the constant background a brain extraction leaves (interpolation blurs it a little)."""
    return array > background + 1e-3 * (float(array.max()) - background)


def _erode(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_erosion(mask, iterations=max(1, int(round(ERODE_MM / GRID_MM))))


def _lps_affine(transform) -> np.ndarray:
    """A SimpleITK matrix-offset transform as a 4x4 point map (LPS)."""
    matrix = np.asarray(transform.GetMatrix(), float).reshape(3, 3)
    centre, translation = np.asarray(transform.GetCenter(), float), np.asarray(transform.GetTranslation(), float)
    affine = np.eye(4)
    affine[:3, :3] = matrix
    affine[:3, 3] = translation + centre - matrix @ centre
    return affine


def _transform(affine: np.ndarray):
    """A 4x4 LPS point map (a reflection allowed) as a SimpleITK transform."""
    import SimpleITK as sitk

    transform = sitk.AffineTransform(3)
    transform.SetMatrix(tuple(float(v) for v in affine[:3, :3].ravel()))
    transform.SetTranslation(tuple(float(v) for v in affine[:3, 3]))
    return transform


class MatchCheck:
    """The reference sampled once at ``GRID_MM`` with its mid-plane; ``check`` measures and judges a sequence."""

    def __init__(self, fixed) -> None:
        import SimpleITK as sitk

        size = [max(1, int(round(n * s / GRID_MM))) for n, s in zip(fixed.GetSize(), fixed.GetSpacing())]
        self.grid = sitk.Image(size, sitk.sitkFloat32)
        self.grid.SetSpacing([GRID_MM] * 3)
        self.grid.SetOrigin(fixed.GetOrigin())
        self.grid.SetDirection(fixed.GetDirection())
        background = _background(fixed)
        self.fixed = self._sample(fixed, sitk.Transform(), background)
        brain = _foreground(self.fixed, background)
        self.mirror = self._symmetry(brain)
        self.inside = _erode(brain)

    def _image(self, array: np.ndarray):
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(array)
        image.CopyInformation(self.grid)
        return image

    def _sample(self, image, transform, background: float) -> np.ndarray:
        import SimpleITK as sitk

        return sitk.GetArrayFromImage(sitk.Resample(image, self.grid, transform, sitk.sitkLinear, background,
                                                    sitk.sitkFloat32))

    def _symmetry(self, brain: np.ndarray) -> np.ndarray:
        """The reference brain's mirror symmetry as an LPS point map: the reflection left-right through its
        centroid, composed with the rigid motion that best aligns the brain's outline with its mirror image.
        The outline, not the intensities: a large tumour across the midline drew an intensity fit to a plane
        turned 76°. A refinement beyond ``MAX_SYMMETRY_TURN_DEG`` (no head lies that crooked) keeps the plain
        reflection, as does a blank reference."""
        import SimpleITK as sitk

        zyx = np.argwhere(brain).mean(0) if brain.any() else (np.asarray(self.fixed.shape) - 1) / 2
        centroid = np.asarray(self.grid.TransformContinuousIndexToPhysicalPoint([float(i) for i in zyx[::-1]]))
        reflection = np.eye(4)
        reflection[0, 0], reflection[0, 3] = -1.0, 2.0 * centroid[0]
        outline = sitk.SmoothingRecursiveGaussian(self._image(brain.astype(np.float32)), 2 * GRID_MM)
        mirror_image = sitk.Resample(outline, outline, _transform(reflection), sitk.sitkLinear, 0.0)
        method = sitk.ImageRegistrationMethod()
        method.SetMetricAsMeanSquares()
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(min(1.0, SYMMETRY_SAMPLES / brain.size), 2024)
        method.SetInterpolator(sitk.sitkLinear)
        method.SetOptimizerAsRegularStepGradientDescent(2.0, 0.05, 50, relaxationFactor=0.5)
        method.SetOptimizerScales([100.0, 100.0, 100.0, 1.0, 1.0, 1.0])  # 1 rad ≈ 100 mm at the brain's edge
        method.SetShrinkFactorsPerLevel([2])
        method.SetSmoothingSigmasPerLevel([0.0])
        motion = sitk.Euler3DTransform()
        motion.SetCenter(tuple(float(c) for c in centroid))
        method.SetInitialTransform(motion, inPlace=True)
        try:
            method.Execute(outline, mirror_image)
        except RuntimeError:
            return reflection
        turn, shift = motion_of(motion, centroid)
        if turn > MAX_SYMMETRY_TURN_DEG or shift > MAX_SYMMETRY_SHIFT_MM:
            return reflection
        return reflection @ _lps_affine(motion)

    def _scores(self, moved: np.ndarray, background: float) -> tuple[float, float]:
        """(edge alignment, mutual information) inside both brains; zeros when they barely overlap."""
        both = self.inside & _erode(_foreground(moved, background))
        if both.sum() < MIN_BRAIN_VOXELS:
            return 0.0, 0.0
        return edge_alignment(self.fixed, moved, both), mutual_information(self.fixed[both], moved[both])

    def measure(self, moving, transform) -> Match:
        """``moving`` (a sequence on its own grid) through ``transform`` (reference → sequence, LPS)."""
        import SimpleITK as sitk

        background = _background(moving)
        edges, information = self._scores(self._sample(moving, transform, background), background)
        mirrored = sitk.CompositeTransform([transform, _transform(self.mirror)])  # the mirror first
        mirrored_edges, mirrored_information = self._scores(self._sample(moving, mirrored, background), background)
        return Match(edges, mirrored_edges, information, mirrored_information)

    @staticmethod
    def judge(match: Match, sequence: str, name: str | Path) -> None:
        """A ``RegistrationError`` naming ``name`` (the user's series) when ``match`` fails the thresholds."""
        if match.edges == 0:
            raise RegistrationError(f"{sequence} barely overlaps the reference's brain once registered (a failed "
                                    "registration, or a scan of another body part)", name)
        figures = (f"edge alignment {match.edges:.3f}, mirrored {match.mirrored_edges:.3f}: ratio "
                   f"{match.edge_ratio:.2f}")
        if match.edge_ratio >= MIRRORED_EDGE_RATIO:
            raise RegistrationError(f"{sequence} seems mirrored left-right: once registered it fits the reference "
                                    f"better mirrored back ({figures}); check how the series was converted (a "
                                    "flipped header or axis)", name)
        if match.edge_ratio > MAX_EDGE_RATIO:
            raise RegistrationError(f"{sequence} does not match the reference once registered: its mirror image "
                                    f"fits about as well ({figures}, above {MAX_EDGE_RATIO}; the same patient's "
                                    "sequences fit clearly better than their mirror image): another patient's scan, "
                                    "a wrong orientation in its header, or a failed registration", name)

    def check(self, moving, transform, sequence: str, name: str | Path) -> Match:
        """The ``Match`` of a registered sequence; a ``RegistrationError`` naming ``name`` when it fails."""
        match = self.measure(moving, transform)
        self.judge(match, sequence, name)
        return match
