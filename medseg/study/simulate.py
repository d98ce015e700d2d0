"""A clinical-looking study made from a co-registered case, with the motions known exactly.

Each sequence is moved by a known rigid motion and re-gridded at a clinical resolution and
orientation (a sagittal 3D, a thick-slice axial), as a hospital exports it. The true
reference→sequence transform is kept, so registration can be scored by target registration error
(TRE) on real anatomy; tests and ``benchmarks/study_bench.py`` use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.study.register import image_centre, read_image

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
# Sagittal slices (LPS): columns run anterior→posterior, rows superior→inferior, slices left→right.
SAGITTAL = (0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0)


@dataclass(frozen=True)
class Acquisition:
    """How one sequence is acquired: rotation (degrees about L, P, S), shift (mm), spacing, orientation."""

    rotation_deg: tuple[float, float, float]
    shift_mm: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: tuple[float, ...] = AXIAL

    def transform(self, centre: np.ndarray):
        """Reference LPS → sequence LPS (the patient's motion), rotating about ``centre``."""
        import SimpleITK as sitk

        transform = sitk.Euler3DTransform()
        transform.SetCenter(tuple(float(c) for c in centre))
        transform.SetRotation(*np.radians(self.rotation_deg))
        transform.SetTranslation(tuple(float(s) for s in self.shift_mm))
        return transform


# A clinical protocol: sagittal 3D T1, thick-slice axial FLAIR, 3 mm axial T2 (the reference T1ce stays put).
CLINICAL = {
    "t1": Acquisition((8.0, -5.0, 12.0), (12.0, -8.0, 15.0), (1.0, 1.0, 1.2), SAGITTAL),
    "t2": Acquisition((-10.0, 6.0, -4.0), (-15.0, 10.0, 5.0), (0.9, 0.9, 3.0)),
    "flair": Acquisition((5.0, 12.0, -8.0), (6.0, 18.0, -10.0), (0.9, 0.9, 5.0)),
}


def acquire(image, acquisition: Acquisition, centre: np.ndarray):
    """``image`` (on the reference grid) as the moved patient would be scanned: a new grid covering
    the moved head, the anatomy displaced by ``acquisition.transform``. Returns (image, transform)."""
    import SimpleITK as sitk

    motion = acquisition.transform(centre)
    size = np.asarray(image.GetSize())
    corners = np.array([image.TransformIndexToPhysicalPoint([int(c) for c in corner])
                        for corner in np.array(np.meshgrid(*[[0, n - 1] for n in size])).reshape(3, -1).T])
    moved = np.array([motion.TransformPoint(tuple(p)) for p in corners])
    direction = np.asarray(acquisition.direction, float).reshape(3, 3)
    along = moved @ direction  # coordinates along the new grid's axes
    spacing = np.asarray(acquisition.spacing, float)
    grid = sitk.Image([int(n) for n in np.ceil((along.max(0) - along.min(0)) / spacing) + 1], sitk.sitkFloat32)
    grid.SetSpacing(tuple(spacing))
    grid.SetDirection(tuple(direction.ravel()))
    grid.SetOrigin(tuple(direction @ along.min(0)))
    # Resample pulls each sequence point back to the reference through the inverse motion; beyond the source
    # volume lies its background (its minimum: 0, or the constant negative of data z-scored upstream).
    background = float(sitk.GetArrayViewFromImage(image).min())
    out = sitk.Resample(image, grid, motion.GetInverse(), sitk.sitkLinear, background, sitk.sitkFloat32)
    return out, motion


def mirrored(image):
    """A copy of ``image`` with the anatomy mirrored left-right on the same grid: the voxels flipped along the
    axis nearest the patient's left-right (LPS x), as a conversion or header that swapped the sides leaves it."""
    import SimpleITK as sitk

    axis = int(np.argmax(np.abs(np.asarray(image.GetDirection()).reshape(3, 3)[0])))
    array = np.flip(sitk.GetArrayFromImage(image), axis=2 - axis)  # (z, y, x) order
    out = sitk.GetImageFromArray(np.ascontiguousarray(array))
    out.CopyInformation(image)
    return out


def write_nifti(image, path: str | Path, dtype=np.int16) -> Path:
    """A SimpleITK image as NIfTI with qform = sform (code 1), like a scanner conversion; integer ``dtype``s
    are rounded (scanner data), float ones kept (data z-scored upstream, such as BraTS 2015)."""
    import nibabel as nib
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    array = np.round(array).astype(dtype) if np.issubdtype(dtype, np.integer) else array.astype(dtype)
    lps = np.eye(4)
    lps[:3, :3] = np.asarray(image.GetDirection()).reshape(3, 3) * np.asarray(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    out = nib.Nifti1Image(array, affine)
    out.set_qform(affine, code=1)
    out.set_sform(affine, code=1)
    nib.save(out, str(path))
    return Path(path)


def simulate_study(case_dir: str | Path, output_dir: str | Path, protocol: dict[str, Acquisition] | None = None,
                   reference: str = "t1ce") -> dict[str, object]:
    """Write ``<case>_<sequence>.nii.gz`` for every sequence of a BraTS-style case folder: the reference
    copied unchanged, the others moved and re-gridded. Returns the true reference→sequence transforms."""
    import shutil

    import nibabel as nib

    case_dir, output_dir = Path(case_dir), Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    case = case_dir.name
    reference_path = case_dir / f"{case}_{reference}.nii.gz"
    shutil.copyfile(reference_path, output_dir / reference_path.name)
    centre = image_centre(read_image(reference_path))
    truth = {}
    for sequence, acquisition in (protocol or CLINICAL).items():
        source = case_dir / f"{case}_{sequence}.nii.gz"
        moved, motion = acquire(read_image(source), acquisition, centre)
        write_nifti(moved, output_dir / source.name, nib.load(source).get_data_dtype())
        truth[sequence] = motion
    return truth


def target_registration_error(estimated, truth, points: np.ndarray) -> np.ndarray:
    """Distance (mm) between where two reference→sequence transforms send each LPS point."""
    return np.array([np.linalg.norm(np.subtract(estimated.TransformPoint(tuple(p)), truth.TransformPoint(tuple(p))))
                     for p in np.asarray(points, float)])


def brain_lattice(reference_path: str | Path, step_mm: float = 10.0) -> np.ndarray:
    """LPS points every ``step_mm`` inside the brain (non-zero voxels of a brain-extracted reference)."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(reference_path))
    array = sitk.GetArrayFromImage(image)  # (z, y, x)
    step = np.maximum(1, np.round(step_mm / np.asarray(image.GetSpacing())[::-1]).astype(int))
    zyx = np.argwhere(array[::step[0], ::step[1], ::step[2]] != 0) * step
    return np.array([image.TransformIndexToPhysicalPoint([int(i) for i in index[::-1]]) for index in zyx])
