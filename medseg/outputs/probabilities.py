"""Per-class probabilities on the input grid, channels last (H×W×C or D×H×W×C).

Two encodings, both stated in the file itself:

* ``uint8`` (default): a NIfTI ``<case>_probabilities.nii.gz`` of shape X×Y×Z×C with the input's
  header geometry, values ``round(p × 255)`` and ``scl_slope = 1/255``, so any NIfTI reader that
  applies the slope (nibabel ``get_fdata``, Slicer, ITK) returns probabilities in [0, 1] within
  1/510. NIfTI has no float16, hence this scaling.
* ``float16``: ``<case>_probabilities.npz`` with ``probabilities`` (spatial…, C) float16,
  ``affine`` (the NIfTI affine) and ``channels`` (names), for analysis in Python.

Channel *c* is the network's channel *c* (``schema.channel_names``): softmax classes, background
first, for exclusive schemas (they sum to 1); independent sigmoid regions for overlapping ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import OutputError
from medseg.io.atomic import atomic_path, ensure_not_input
from medseg.io.read import load_nifti_header
from medseg.outputs.prediction import Prediction

ENCODINGS = ("uint8", "float16")
UINT8_SCALE = 255.0


def channels_last(probabilities: np.ndarray, spatial_shape: tuple[int, ...]) -> np.ndarray:
    """(C, *spatial) → (*spatial, C); a 2D prediction becomes X×Y×1×C to match its NIfTI grid."""
    out = np.moveaxis(np.asarray(probabilities, dtype=np.float32), 0, -1)
    if out.ndim == 3 and len(spatial_shape) == 3 and spatial_shape[2] == 1:
        out = out[:, :, None, :]
    if out.shape[:-1] != spatial_shape:
        raise OutputError(f"probabilities of shape {out.shape[:-1]} are not on the input grid {spatial_shape}")
    return out


def _write_nifti_raw(header, data: np.ndarray, path: Path) -> None:
    """Write header + unscaled data as given: ``nib.save`` would replace a preset ``scl_slope``."""
    from nibabel.openers import ImageOpener
    from nibabel.volumeutils import seek_tell

    with ImageOpener(str(path), "wb") as handle:
        header.write_to(handle)
        seek_tell(handle, header.get_data_offset(), write0=True)
        header.data_to_fileobj(data, handle, rescale=False)


def write_probabilities(
    probabilities: np.ndarray, reference: str | Path, output: str | Path, channel_names: tuple[str, ...],
    encoding: str = "uint8",
) -> Path:
    """Write (C, *spatial) probabilities channels-last on the reference's grid, atomically."""
    if encoding not in ENCODINGS:
        raise OutputError(f"probability encoding must be one of {ENCODINGS}, got {encoding!r}", output)
    ref = load_nifti_header(reference)
    data = channels_last(probabilities, tuple(int(s) for s in ref.shape[:3]))
    with atomic_path(output) as tmp:
        if encoding == "float16":
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, probabilities=data.astype(np.float16), affine=ref.affine,
                                    channels=np.array(channel_names))
        else:
            header = ref.header.copy()
            header.set_data_shape(data.shape)
            header.set_data_dtype(np.uint8)
            header.set_slope_inter(1.0 / UINT8_SCALE, 0.0)
            header["descrip"] = b"medseg probabilities: uint8 x 1/255 = p"
            scaled = np.rint(np.clip(data, 0.0, 1.0) * UINT8_SCALE).astype(np.uint8)
            _write_nifti_raw(header, scaled, tmp)
    return Path(output)


class ProbabilityWriter:
    """``<case>_probabilities.nii.gz`` (uint8 × 1/255) or ``.npz`` (float16); see the module docstring."""

    def __init__(self, encoding: str = "uint8") -> None:
        if encoding not in ENCODINGS:
            raise OutputError(f"probability encoding must be one of {ENCODINGS}, got {encoding!r}")
        self.encoding = encoding

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case = prediction.case
        suffix = ".npz" if self.encoding == "float16" else ".nii.gz"
        output = Path(output_dir) / f"{case.case_id}_probabilities{suffix}"
        ensure_not_input(output, list(case.images))
        names = prediction.schema.channel_names
        return [write_probabilities(prediction.probabilities, case.reference, output, names, self.encoding)]
