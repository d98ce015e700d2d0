"""What inference hands every output writer: one case's ``Prediction``, on the case's own grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from medseg.io.read import CaseFiles
from medseg.labels import LabelSchema


@dataclass
class Prediction:
    """One case's result, already on the case's own grid."""

    case: CaseFiles
    label: np.ndarray  # label map (schema values), spatial shape of the input
    probabilities: np.ndarray  # (C, *spatial) float32, per network channel
    schema: LabelSchema
    masks: np.ndarray | None = None  # (C, *spatial) bool, overlapping mode: each structure's full mask
    sequences: tuple[str, ...] = ()  # the input sequences the study had (the bundle's, less any missing)
    reference_image: np.ndarray | None = None  # the reference's voxels as loaded (spatial shape), when kept
    unused_sequences: tuple[str, ...] = ()  # sequences the study had that the run left out (ignore_modalities)

    def region_masks(self) -> np.ndarray | None:
        """Each overlapping channel's mask (C, *spatial) as every output shows it; None for exclusive schemas.

        The Predictor's masks, which agree with the label map (``Predictor.label_and_masks``); for a
        prediction made without them, the label map's regions, or the channels at 0.5 where one label
        map cannot hold the structures (``LabelSchema.label_per_channel``).
        """
        if self.schema.mode != "overlapping":
            return None
        if self.masks is not None:
            return np.asarray(self.masks, dtype=bool)
        if self.schema.label_per_channel:
            return np.asarray(self.probabilities) > 0.5
        return self.schema.label_map_to_masks(self.label)


class OutputWriter(Protocol):
    """Writes some files for a prediction into an output folder; returns their paths.

    Bundles list their writers in ``inference.json`` (``predictor#writers``), so new output kinds
    (Slicer segmentations, DICOM SEG, overlays, measurements) plug in without touching the loop.
    """

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]: ...
