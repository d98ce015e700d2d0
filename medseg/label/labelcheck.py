"""A label submitted from Slicer, checked before it is stored: a NIfTI label map on the shown image's grid,
with only the bundle's label values. Anything else is refused in one line and nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.geometry import viewer_affine
from medseg.io.read import is_nifti, load_nifti_header
from medseg.labels import LabelSchema

# Slicer writes the grid it displays through ITK: the sform in float32 and the qform as a quaternion,
# so a label on exactly the image's grid comes back with ~1e-5 relative rounding (1e-3 mm at 100 mm
# from the origin). A real misplacement (a voxel's shift, another spacing, a flip) is far larger.
GRID_TOLERANCE_MM = 1e-3


def checked_label(upload: str | Path, shown: str | Path, schema: LabelSchema, what: str) -> np.ndarray:
    """The label map of ``upload`` (integers, the shown image's spatial shape), or an ``InputError``.

    ``what`` names the label in the message (the upload itself is a temporary file of the server).
    The grid is compared as 3D Slicer resolves it (``viewer_affine``), since Slicer wrote it.
    """
    if not is_nifti(upload):
        raise InputError(f"expected a NIfTI label map (.nii.gz), got '{Path(upload).name}'; keep MONAI Label's "
                         "file extension .nii.gz in Slicer's settings", what)
    try:
        label = load_nifti_header(upload)
    except InputError as exc:
        raise InputError(exc.message, what) from exc
    image = load_nifti_header(shown)
    spatial = tuple(int(s) for s in image.shape[:3])
    shape = tuple(int(s) for s in label.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if shape != spatial:
        raise InputError(f"label is {_dims(shape)} voxels, the image it labels ({Path(shown).name}) is "
                         f"{_dims(spatial)}", what)
    offset = np.abs(viewer_affine(label) - viewer_affine(image)).max()
    if offset > GRID_TOLERANCE_MM:
        raise InputError(f"label is not on the grid of {Path(shown).name} (voxel-to-scanner transforms differ by "
                         f"up to {offset:.3g} mm): export it on the displayed volume's geometry", what)
    data = np.asarray(label.dataobj).reshape(spatial)
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise InputError("label holds non-integer values; a label map holds the bundle's label values", what)
        data = data.astype(np.int64)
    schema.check_label_values(data, what)  # values outside the schema: one line naming them
    return data.astype(np.uint8 if data.max(initial=0) < 256 else np.int16)


def _dims(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))
