"""NIfTI label maps on exactly the grid of a reference NIfTI (shape, qform, sform, codes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import OutputError
from medseg.io.atomic import atomic_path, ensure_not_beside_input
from medseg.io.read import load_nifti_header
from medseg.outputs.prediction import Prediction


def label_image_like(label: np.ndarray, reference: str | Path):
    """A ``Nifti1Image`` holding ``label`` with the reference's header geometry copied verbatim.

    The quaternion, sform rows, pixdim and both codes are kept bit for bit, so 3D Slicer
    (which prefers the qform) and nibabel (which prefers the sform) place the mask exactly where
    they place the reference image, even when the reference's qform and sform differ.
    """
    import nibabel as nib

    ref = load_nifti_header(reference)
    spatial = tuple(int(s) for s in ref.shape[:3])
    label = np.asarray(label)
    if label.ndim == 2 and len(spatial) == 3 and spatial[2] == 1:
        label = label[..., None]
    if tuple(label.shape) != spatial[: label.ndim] or label.ndim != len(spatial):
        raise OutputError(f"label shape {label.shape} does not match the input grid {spatial}", reference)
    header = ref.header.copy()
    header.set_data_shape(label.shape)
    header.set_data_dtype(np.uint8 if label.max(initial=0) < 256 else np.int16)
    header.set_slope_inter(1.0, 0.0)
    header["cal_min"], header["cal_max"] = 0, float(label.max(initial=0))
    header["intent_code"] = 1002  # NIFTI_INTENT_LABEL
    header["descrip"] = b"medseg label map"
    # The header copy already carries quaternion, sform rows, pixdim and both codes; passing the
    # reference's own best affine keeps nibabel from resetting them.
    return nib.Nifti1Image(label.astype(header.get_data_dtype()), ref.affine, header)


def write_label_like(label: np.ndarray, reference: str | Path, output: str | Path) -> Path:
    """Write ``label`` atomically to ``output`` on the reference's grid."""
    import nibabel as nib

    image = label_image_like(label, reference)
    with atomic_path(output) as tmp:
        nib.save(image, tmp)
    return Path(output)


class NiftiLabelWriter:
    """``<case>_seg.nii.gz``: the integer label map on the first modality's exact grid."""

    def __init__(self, suffix: str = "_seg") -> None:
        self.suffix = suffix

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case = prediction.case
        output = Path(output_dir) / f"{case.case_id}{self.suffix}.nii.gz"
        ensure_not_beside_input(output, [*case.images, *([case.label] if case.label else [])])
        return [write_label_like(prediction.label, case.reference, output)]
