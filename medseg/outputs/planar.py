"""The label writer for 2D images: a PNG at the input's own size, or a NIfTI like a NIfTI input."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.atomic import atomic_path, ensure_not_input
from medseg.io.read import is_nifti
from medseg.outputs.nifti import NiftiLabelWriter
from medseg.outputs.prediction import Prediction


class PlanarLabelWriter:
    """``<case>_seg.png`` (label values as 8-bit grey, the input's width × height) or NIfTI like the input."""

    def __init__(self, suffix: str = "_seg") -> None:
        self.suffix = suffix

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        from PIL import Image

        case = prediction.case
        if is_nifti(case.reference):
            return NiftiLabelWriter(self.suffix)(prediction, output_dir)
        output = Path(output_dir) / f"{case.case_id}{self.suffix}.png"
        ensure_not_input(output, list(case.images))
        label = np.asarray(prediction.label)
        size = Image.open(case.reference).size
        if label.shape != size:  # MONAI's PILReader gives (width, height)
            raise InputError(f"label shape {label.shape} does not match the input size {size}", case.reference)
        with atomic_path(output) as tmp:
            Image.fromarray(np.ascontiguousarray(label.T.astype(np.uint8)), mode="L").save(tmp, format="PNG")
        return [output]
