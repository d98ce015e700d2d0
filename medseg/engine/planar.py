"""Inference on 2D images (PNG/JPEG/TIFF or 2D NIfTI; grey or RGB) with masks at the input's own size.

The loop and the header checks are ``Predictor``'s (sliding window, ``Invertd`` back to the input
grid, schema-driven labels, ``medseg.io.checks``); only input resolution (a folder is a batch of
images) and the writer differ for 2D files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medseg.data.inputs import resolve_inputs
from medseg.engine.infer import Predictor
from medseg.errors import InputError
from medseg.io.atomic import atomic_path, ensure_not_input
from medseg.io.read import CaseFiles, is_nifti
from medseg.io.write import NiftiLabelWriter, Prediction


class PlanarPredictor(Predictor):
    """``Predictor`` for 2D bundles: a file is a case, a folder is a batch of cases."""

    def load(self, case: CaseFiles) -> dict[str, Any]:
        self.check_case(case)
        data = self.preprocessing({"image": str(case.reference)})
        if not torch.isfinite(data["image"]).all():
            raise InputError("image contains NaN or Inf values", case.reference)
        return data

    def resolve_inputs(self, inputs: Sequence[str | Path], series: str | None = None) -> list[CaseFiles]:
        return resolve_inputs(inputs, self.modalities, series, per_image=True)


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
