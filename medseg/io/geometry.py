"""The voxel→scanner transform that viewers actually use for a NIfTI file, in RAS and LPS.

nibabel's ``affine`` prefers the sform; ITK (so SimpleITK and 3D Slicer) builds IJK→RAS from the
qform unless ``sform_code == 1`` (scanner) or ``qform_code == 0``. The two agree whenever qform and
sform hold the same matrix (what medseg writes when the input does); when an input carries two
different transforms, outputs for Slicer (``.seg.nrrd``) and scanner-space measurements follow
Slicer's choice so the segmentation lies on the NIfTI label as Slicer displays it.
"""

from __future__ import annotations

import numpy as np

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def viewer_affine(image) -> np.ndarray:
    """IJK→RAS (4×4, mm) of a nibabel NIfTI image as ITK/Slicer resolve it."""
    header = image.header
    qform_code, sform_code = int(header["qform_code"]), int(header["sform_code"])
    if sform_code != 0 and (sform_code == 1 or qform_code == 0):
        return np.asarray(header.get_sform(), dtype=np.float64)
    if qform_code != 0:
        return np.asarray(header.get_qform(), dtype=np.float64)
    return np.asarray(image.affine, dtype=np.float64)  # neither code set: nibabel's pixdim fallback


def ras_to_lps(affine: np.ndarray) -> np.ndarray:
    """The same transform expressed in LPS (DICOM, NRRD ``left-posterior-superior`` space)."""
    return RAS_TO_LPS @ np.asarray(affine, dtype=np.float64)


def voxel_volume(affine: np.ndarray, spatial_dims: int = 3) -> float:
    """mm³ per voxel (3D) or mm² per pixel (2D, the first two axes) from the affine's columns."""
    columns = np.asarray(affine, dtype=np.float64)[:3, :3]
    if spatial_dims == 2:
        return float(np.linalg.norm(np.cross(columns[:, 0], columns[:, 1])))
    return float(abs(np.linalg.det(columns)))


def voxel_to_world(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """Map voxel indices (N, 3) to world coordinates (N, 3) with a 4×4 affine."""
    ijk = np.atleast_2d(np.asarray(ijk, dtype=np.float64))
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box holding every True voxel of ``mask`` (None when it has none).

    A tumour fills a fraction of a percent of a 240×240×155 scan; measuring, counting pieces and
    writing inside its box instead of the whole grid is what keeps per-case outputs cheap. The box
    comes from one projection per axis, so finding it costs a pass over the mask, not a sort.
    """
    mask = np.asarray(mask, dtype=bool)
    box = []
    for axis in range(mask.ndim):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if not len(hits):
            return None
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)
