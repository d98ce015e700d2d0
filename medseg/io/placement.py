"""Where each reader puts a NIfTI file: nibabel, 3D Slicer and ITK resolve the qform/sform pair differently.

A NIfTI header holds two placements, the qform and the sform, each with a code saying whether it
counts. Readers pick between them by different rules:

* **nibabel** (so MONAI's loader and medseg's network input): the sform when ``sform_code > 0``,
  else the qform when ``qform_code > 0``, else a voxel-size-only affine centred on the grid.
* **3D Slicer** (where users open the masks): the qform unless ``sform_code == 1`` or
  ``qform_code == 0`` (``DESIGN.md``).
* **ITK / SimpleITK** (medseg's registration, ANTs): the sform when it is orthonormal and either
  the qform is unset, ``sform_code == 1`` (scanner), or the two agree; else the qform when it is
  set (``NiftiImageIO::SetImageIOOrientationFromNIfTI``, ITK 5.4; checked against SimpleITK on
  codes (1, 2), (2, 2), (1, 3), (0, 2) and (1, 1)). Neither set: origin 0, identity directions.

A study is safe when every reader relates its files to one another the same way (an offset every
file shares moves the mask with the images). ``placement_problem`` finds a file that one reader
puts elsewhere relative to the reference than nibabel does: the T2 of a study with ``qform_code``
1 (shifted 10 mm) and ``sform_code`` 2 among files with ``qform_code`` 0 lines up in nibabel and
lies 10 mm away in Slicer and ITK.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOLERANCE_MM = 0.01  # float32 qform round-off is ~1e-4 mm over a head; a real disagreement is millimetres
READERS = ("3D Slicer", "ITK")
_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _codes(image) -> tuple[int, int]:
    return int(image.header["qform_code"]), int(image.header["sform_code"])


def _orthonormal(affine: np.ndarray) -> bool:
    matrix = affine[:3, :3]
    norms = np.linalg.norm(matrix, axis=0)
    if np.any(norms == 0):
        return False
    rotation = matrix / norms
    return bool(np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4))


def _unset(image) -> np.ndarray:
    """ITK's placement of a file with neither form set: origin 0, identity directions (LPS), pixdim spacing."""
    zooms = np.abs(np.asarray(image.header.get_zooms()[:3], float))
    return _LPS @ np.diag([*zooms, 1.0])


def slicer_affine(image) -> np.ndarray:
    """The RAS affine 3D Slicer builds: the qform unless ``sform_code == 1`` or ``qform_code == 0``."""
    qform_code, sform_code = _codes(image)
    if sform_code > 0 and (sform_code == 1 or qform_code == 0):
        return image.header.get_sform()
    if qform_code > 0:
        return image.header.get_qform()
    return _unset(image)


def itk_affine(image) -> np.ndarray | None:
    """The RAS affine ITK/SimpleITK reads (None: ITK refuses the file, a sheared sform and no qform)."""
    qform_code, sform_code = _codes(image)
    qform, sform = image.header.get_qform(), image.header.get_sform()
    if qform_code == 0 and sform_code == 0:
        return _unset(image)
    if sform_code > 0 and _orthonormal(sform) and (
            qform_code == 0 or sform_code == 1 or np.allclose(qform, sform, atol=1e-4)):
        return sform
    return qform if qform_code > 0 else None


def reader_affines(image) -> dict[str, np.ndarray | None]:
    """The RAS affine of ``image`` (a nibabel NIfTI) under each reader; None where the reader refuses it."""
    return {"nibabel": image.affine, "3D Slicer": slicer_affine(image), "ITK": itk_affine(image)}


def _corners(shape: tuple[int, ...]) -> np.ndarray:
    """The grid's 8 corner voxels as homogeneous columns."""
    axes = [[0.0, max(0, int(n) - 1)] for n in (tuple(shape[:3]) + (1, 1, 1))[:3]]
    grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(3, -1)
    return np.vstack([grid, np.ones(grid.shape[1])])


def _form(image, affine: np.ndarray) -> str:
    """Which header field ``affine`` is, for the message."""
    qform_code, sform_code = _codes(image)
    if sform_code > 0 and np.array_equal(affine, image.header.get_sform()):
        return f"sform (code {sform_code})"
    if qform_code > 0 and np.array_equal(affine, image.header.get_qform()):
        return f"qform (code {qform_code})"
    return "voxel sizes only (no qform or sform)"


def relative_shift_mm(reference, image, reader: str) -> float | None:
    """How far (mm) ``reader`` puts ``image`` from where nibabel puts it, relative to ``reference``.

    Each reader maps the reference's voxels to the image's voxels (its affines); the shift is the
    largest distance, over the reference grid's corners, between where that mapping lands and
    where nibabel's lands (measured in nibabel's space of ``image``). None: the reader refuses a file.
    """
    ref_affine, affine = reader_affines(reference)[reader], reader_affines(image)[reader]
    if ref_affine is None or affine is None:
        return None
    corners = _corners(reference.shape)
    theirs = np.linalg.solve(affine, ref_affine @ corners)
    ours = np.linalg.solve(image.affine, reference.affine @ corners)
    return float(np.max(np.linalg.norm((image.affine @ (theirs - ours))[:3], axis=0)))


def placement_problem(names: Sequence[str], images: list) -> tuple[int, str] | None:
    """(index of the file to blame, one-line problem) for the first file that a reader places differently from
    nibabel relative to the first file (``names`` name them in the message); None when nibabel, 3D Slicer
    and ITK all relate the files the same way."""
    reference = images[0]
    for index, image in enumerate(images[1:], start=1):
        for reader in READERS:
            shift = relative_shift_mm(reference, image, reader)
            if shift is None or shift <= TOLERANCE_MM:
                continue
            own = reader_affines(image)[reader]
            blamed = index if not np.allclose(own, image.affine, atol=1e-4) else 0  # whose forms disagree
            other, culprit = names[index if blamed == 0 else 0], images[blamed]
            return blamed, (f"{reader} places it {shift:.1f} mm away from where nibabel does relative to {other} "
                            f"({reader} reads its {_form(culprit, reader_affines(culprit)[reader])}, nibabel its "
                            f"{_form(culprit, culprit.affine)}): viewers and medseg would not line the sequences "
                            "up the same way; give it one placement, qform = sform (e.g. nibabel: "
                            "img.set_qform(img.get_sform()))")
    return None
