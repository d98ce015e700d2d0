"""Inference on 2D images (PNG/JPEG/TIFF or 2D NIfTI; grey or RGB) with masks at the input's own size.

The loop is ``Predictor``'s (sliding window, ``Invertd`` back to the input grid, schema-driven
labels); only input resolution and header checks differ for 2D files (the writer is
``medseg.io.planar_write``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from medseg.data.check import PLANAR_SUFFIXES, read_header
from medseg.engine.infer import Predictor
from medseg.errors import InputError
from medseg.io.read import CaseFiles, is_nifti


def is_planar_file(path: Path) -> bool:
    return path.is_file() and (path.name.lower().endswith(PLANAR_SUFFIXES) or is_nifti(path))


class PlanarPredictor(Predictor):
    """``Predictor`` for 2D bundles: a file is a case, a folder is a batch of cases."""

    def check_case(self, case: CaseFiles) -> None:
        header = read_header(case.reference, 2)
        if header.spatial[2:] not in ((), (1,)) or min(header.spatial[:2]) == 1:
            raise InputError(f"expected a 2D image, got shape {header.spatial}", case.reference)
        if header.channels != self.network_in_channels:
            raise InputError(f"image has {header.channels} channel(s), the bundle needs {self.network_in_channels}",
                             case.reference)

    def load(self, case: CaseFiles) -> dict[str, Any]:
        self.check_case(case)
        data = self.preprocessing({"image": str(case.reference)})
        if not torch.isfinite(data["image"]).all():
            raise InputError("image contains NaN or Inf values", case.reference)
        return data

    def resolve_inputs(self, inputs: Sequence[str | Path], series: str | None = None) -> list[CaseFiles]:
        cases: list[CaseFiles] = []
        for item in map(Path, inputs):
            if item.suffix == ".json":
                cases.extend(super().resolve_inputs([item]))
            elif item.is_dir():
                files = sorted(p for p in item.iterdir() if is_planar_file(p))
                if not files:
                    raise InputError("no 2D images (PNG/JPEG/TIFF/NIfTI) in the folder", item)
                cases.extend(CaseFiles(_stem(p), (p,)) for p in files)
            elif is_planar_file(item):
                cases.append(CaseFiles(_stem(item), (item,)))
            else:
                raise InputError("expected a 2D image file, a folder of them, or a manifest", item)
        return cases


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (*PLANAR_SUFFIXES, ".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
