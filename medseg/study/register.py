"""Rigid co-registration of one sequence onto the reference sequence (SimpleITK).

Two stages, both 6-DOF Euler3D:

1. *Shape*: image moments, then the smoothed foreground masks (Otsu, holes filled) aligned by mean
   squares at 4 mm. Masks look alike whatever the contrast, so this has a wide capture range (the
   moments alone leave ≈ 11 mm; this stage ≈ 0.5 mm on brain-extracted BraTS sequences).
2. *Mutual information*: Mattes MI (32 bins) refined at 2 mm then 1 mm, 50 000 random samples
   per level (seeded, so a study registers the same way every time), regular-step gradient
   descent. The *sequence* is the fixed image here and the reference the moving one, so the metric
   samples the sequence at its own voxels: with the reference fixed, a 5 mm FLAIR is interpolated
   between slices and the MI optimum drifts by ≈ 2 mm (measured); this way it stays at ≈ 0.5 mm.

Multi-resolution MI from the moments alone (DESIGN.md's settings) reached ≈ 0.2 mm on 1–3 mm
sequences but ended 20 mm off on a thick-slice FLAIR moved by 15°: that is why stage 1 exists.

The result follows ITK's convention: the reference is the fixed image and the sequence the moving
one, so the transform maps a point of the reference's physical space (LPS, mm) to the same anatomy
in the sequence. That is what ``sitk.Resample`` needs to pull a sequence onto the reference grid,
and what 3D Slicer expects of a ``.tfm`` file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.atomic import atomic_path

MAX_ROTATION_DEG = 45.0
MAX_TRANSLATION_MM = 100.0


class RegistrationError(InputError):
    """A sequence could not be aligned with the reference (failed, or an implausible motion)."""


@dataclass(frozen=True)
class RegistrationSettings:
    """Knobs of the rigid registration; the defaults are the measured ones (see the module docstring)."""

    samples: int = 50_000  # MI samples per level
    bins: int = 32
    shape_mm: float = 4.0  # grid of the shape stage
    shrink: tuple[int, ...] = (2, 1)
    smoothing_mm: tuple[float, ...] = (1.0, 0.0)
    iterations: int = 200
    seed: int = 2024


@dataclass(frozen=True)
class Registration:
    """The result for one sequence: the fixed→moving transform and how it ended."""

    transform: object  # SimpleITK.Euler3DTransform, reference (fixed) LPS → sequence (moving) LPS
    metric: float  # final Mattes MI (negative; lower is better)
    rotation_deg: float
    translation_mm: float  # displacement of the reference's centre
    iterations: int
    stop: str


def read_image(path: str | Path):
    """A NIfTI as a float32 SimpleITK image (geometry as ITK, Slicer and ``viewer_affine`` resolve it)."""
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path), sitk.sitkFloat32)
    except RuntimeError as exc:  # e.g. a sheared sform and no qform: ITK places no such file
        raise InputError(f"ITK cannot read it ({str(exc).strip().splitlines()[-1]})", path) from exc
    if image.GetDimension() != 3:
        raise InputError(f"expected a 3D volume, got {image.GetDimension()}D", path)
    return image


def head_mask(image):
    """Voxels of the head (Otsu foreground, closed and slightly dilated): where MI is sampled."""
    import SimpleITK as sitk

    mask = sitk.OtsuThreshold(image, 0, 1)
    mask = sitk.BinaryMorphologicalClosing(mask, [2, 2, 2])
    return sitk.BinaryDilate(mask, [2, 2, 2])


def shape_image(image, spacing_mm: float):
    """The foreground (Otsu, closed, holes filled) on an isotropic ``spacing_mm`` grid, smoothed: what
    the shape stage aligns."""
    import SimpleITK as sitk

    size = [max(1, int(round(n * s / spacing_mm))) for n, s in zip(image.GetSize(), image.GetSpacing())]
    smooth = sitk.SmoothingRecursiveGaussian(image, spacing_mm / 2)
    small = sitk.Resample(smooth, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(),
                          [spacing_mm] * 3, image.GetDirection(), 0.0, sitk.sitkFloat32)
    mask = sitk.BinaryFillhole(sitk.BinaryMorphologicalClosing(sitk.OtsuThreshold(small, 0, 1), [1, 1, 1]))
    return sitk.SmoothingRecursiveGaussian(sitk.Cast(mask, sitk.sitkFloat32), spacing_mm)


def motion(transform, centre: np.ndarray) -> tuple[float, float]:
    """(rotation angle in degrees, displacement of ``centre`` in mm) of a rigid transform."""
    matrix = np.asarray(transform.GetMatrix(), float).reshape(3, 3)
    angle = float(np.degrees(np.arccos(np.clip((np.trace(matrix) - 1) / 2, -1.0, 1.0))))
    moved = np.asarray(transform.TransformPoint(tuple(float(c) for c in centre)))
    return angle, float(np.linalg.norm(moved - centre))


def image_centre(image) -> np.ndarray:
    """Physical (LPS) centre of an image's voxel grid."""
    index = [(n - 1) / 2.0 for n in image.GetSize()]
    return np.asarray(image.TransformContinuousIndexToPhysicalPoint(index), float)


def _method(settings: RegistrationSettings, samples: int, fixed_voxels: int, levels: tuple[int, ...],
            smoothing: tuple[float, ...], learning_rate: float):
    import SimpleITK as sitk

    method = sitk.ImageRegistrationMethod()
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentagePerLevel(
        [min(1.0, samples * f ** 3 / fixed_voxels) for f in levels], settings.seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learning_rate, 1e-3, settings.iterations, relaxationFactor=0.5,
                                                    gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(levels))
    method.SetSmoothingSigmasPerLevel(list(smoothing))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    return method


def _euler(transform):
    import SimpleITK as sitk

    if transform.GetName() == "CompositeTransform":
        transform = sitk.CompositeTransform(transform).GetNthTransform(0)
    return sitk.Euler3DTransform(transform)


def register_rigid(fixed, moving, name: str | Path, settings: RegistrationSettings | None = None) -> Registration:
    """Align ``moving`` (a sequence) onto ``fixed`` (the reference); ``name`` is the series named in errors.

    Refuses a transform that rotates more than 45° or moves the reference's centre by more than
    100 mm: within one study the patient does not move that much, so such a result is a failure.
    """
    import SimpleITK as sitk

    settings = settings or RegistrationSettings()
    try:
        initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                    sitk.CenteredTransformInitializerFilter.MOMENTS)
        shape_fixed, shape_moving = shape_image(fixed, settings.shape_mm), shape_image(moving, settings.shape_mm)
        shape = _method(settings, 20_000, int(np.prod(shape_fixed.GetSize())), (1,), (0.0,), 2.0)
        shape.SetMetricAsMeanSquares()
        shape.SetInitialTransform(initial, inPlace=False)
        coarse = _euler(shape.Execute(shape_fixed, shape_moving))
        # MI with the roles swapped (sequence fixed, sampled at its own voxels), then inverted back.
        method = _method(settings, settings.samples, int(np.prod(moving.GetSize())), settings.shrink,
                         settings.smoothing_mm, 0.5)
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.bins)
        method.SetMetricFixedMask(head_mask(moving))
        method.SetInitialTransform(sitk.Euler3DTransform(coarse.GetInverse()), inPlace=False)
        transform = sitk.Euler3DTransform(_euler(method.Execute(moving, fixed)).GetInverse())
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise RegistrationError(f"rigid registration failed ({reason})", name) from exc
    angle, shift = motion(transform, image_centre(fixed))
    if angle > MAX_ROTATION_DEG or shift > MAX_TRANSLATION_MM:
        raise RegistrationError(f"registration ended on an implausible motion ({angle:.0f}° rotation, {shift:.0f} mm "
                                f"shift; at most {MAX_ROTATION_DEG:.0f}° and {MAX_TRANSLATION_MM:.0f} mm expected); "
                                "is this series of the same patient and study?", name)
    return Registration(transform, float(method.GetMetricValue()), angle, shift,
                        int(method.GetOptimizerIteration()), method.GetOptimizerStopConditionDescription())


def resample_onto(moving, fixed, transform, nearest: bool = False):
    """``moving`` on ``fixed``'s grid through the fixed→moving ``transform`` (0 outside the sequence)."""
    import SimpleITK as sitk

    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    return sitk.Resample(moving, fixed, transform, interpolator, 0.0, moving.GetPixelID())


def write_transform(transform, path: str | Path) -> Path:
    """An ITK ``.tfm`` (text) that 3D Slicer loads; written atomically."""
    import SimpleITK as sitk

    with atomic_path(path) as tmp:
        sitk.WriteTransform(transform, str(tmp))
    return Path(path)
