"""Inference on 2D images (PNG/JPEG/TIFF or 2D NIfTI; grey or RGB) with masks at the input's own size.

The loop and the header checks are ``Predictor``'s (sliding window, ``Invertd`` back to the input
grid, schema-driven labels, ``medseg.io.checks``); only input resolution differs for 2D files: a
folder is a batch of images (``medseg.data.inputs``). The writer is ``medseg.io.planar_write``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from medseg.data.inputs import resolve_inputs
from medseg.engine.infer import Predictor
from medseg.errors import InputError
from medseg.io.read import CaseFiles
from medseg.study import StudyOptions


class PlanarPredictor(Predictor):
    """``Predictor`` for 2D bundles: a file is a case, a folder is a batch of cases."""

    def load(self, case: CaseFiles) -> dict[str, Any]:
        self.check_case(case)
        data = self.preprocessing({"image": str(case.reference)})
        if not torch.isfinite(data["image"]).all():
            raise InputError("image contains NaN or Inf values", case.reference)
        return data

    def resolve_inputs(self, inputs: Sequence[str | Path], series: str | None = None,
                       study: StudyOptions | None = None) -> list[CaseFiles]:
        if study is not None:
            raise InputError("a 2D bundle takes images, not clinical studies to register (drop --register)")
        return resolve_inputs(inputs, self.modalities, series, per_image=True)
