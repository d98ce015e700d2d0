"""The cases a ``Predictor`` segments: what ``--input`` means (``medseg.data.inputs``) for its bundle.

A single-modality 2D bundle's folder is a batch of images, one case each (PNG/JPEG/TIFF/NIfTI, DICOM
X-rays); a multi-modality one reads a folder as one case, a file per modality. Clinical studies to
register (``--register``) are volumes: a 2D bundle refuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medseg.data.inputs import resolve_inputs
from medseg.errors import InputError
from medseg.io.read import CaseFiles
from medseg.modalities import ModalitySubsets
from medseg.study import StudyOptions


def cases_for(inputs: Sequence[str | Path], modalities: Sequence[str], spatial_dims: int, subsets: ModalitySubsets,
              series: str | None = None, study: StudyOptions | None = None) -> list[CaseFiles]:
    """Case folders, DICOM series folders (``series``: which UID), NIfTI files, X-rays, or manifests (their
    test cases, else all cases); with ``study``, folders are clinical studies: their sequences are
    identified and registered (``medseg.study``)."""
    if spatial_dims == 2 and len(modalities) == 1:
        if study is not None:
            raise InputError("a 2D bundle takes images, not clinical studies to register (drop --register)")
        return resolve_inputs(inputs, modalities, series, per_image=True)
    return resolve_inputs(inputs, modalities, series, subsets=subsets, study=study)
