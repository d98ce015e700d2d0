"""Voxel-level checks that need the data, not just the header: unreadable bodies, NaN/Inf, blank images.

Header checks (``medseg.io.read``) catch most bad studies before anything is loaded; these catch
the rest as the data is read, and always name the one file at fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from medseg.errors import InputError, MedsegError, find_medseg_error
from medseg.io.read import load_nifti_header


def read_voxels(path: str | Path) -> np.ndarray:
    """The full voxel array of a NIfTI; a truncated or corrupt body is an ``InputError`` naming it."""
    image = load_nifti_header(path)
    try:
        return np.asarray(image.dataobj)
    except Exception as exc:  # EOFError, zlib.error, ValueError from a short read, ...
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}" if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read voxel data (file truncated or corrupt: {reason})", path) from exc


def check_voxels(array: np.ndarray, path: str | Path, allow_blank: bool = False, what: str = "image") -> None:
    """Refuse NaN/Inf voxels, and (for images) a volume that is zero everywhere (an empty export)."""
    if not np.isfinite(array).all():
        raise InputError(f"{what} contains NaN or Inf voxels", path)
    if not allow_blank and not np.any(array):
        raise InputError("image is all zeros (empty or failed export?)", path)


def explain_load_failure(exc: BaseException, paths: Iterable[str | Path]) -> MedsegError:
    """Turn an error from a loader or transform chain into one naming the file at fault.

    A ``MedsegError`` inside MONAI's wrapping is returned as is; otherwise each file is read in
    full (only on this failure path) to find the unreadable one.
    """
    found = find_medseg_error(exc)
    if found is not None:
        return found
    for path in paths:
        try:
            read_voxels(path)
        except MedsegError as error:
            return error
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    listed = [str(p) for p in paths]
    return InputError(f"cannot load ({type(exc).__name__}: {first})", listed[0] if len(listed) == 1 else None)
