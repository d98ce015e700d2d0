"""Outputs of a registered study, beside the mask the bundle's writers put on the reference grid.

* ``<case>_<sequence>_to_<reference>.tfm``: each rigid transform (ITK convention, Slicer loads it);
* ``<case>_<sequence>_on_<reference>.nii.gz``: each sequence resampled onto the reference grid, what
  the network saw and what the report overlays the mask on;
* with ``all_grids``: ``<case>_seg_on_<sequence>.nii.gz``, the label map carried onto every sequence's
  own grid (nearest neighbour through the inverse transform), with that sequence's header;
* ``registration`` (per sequence: final Mattes MI, the match figures of ``medseg.study.match``, rotation,
  shift, files) added to
  ``<case>_measurements.json`` when the bundle writes one, else ``<case>_registration.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from medseg.io.atomic import copy_file_atomic, ensure_not_input, staged, write_text_atomic
from medseg.outputs.nifti import write_label_like
from medseg.outputs.prediction import Prediction
from medseg.study.prepare import StudyCase, to_array
from medseg.study.register import read_image, write_transform


def label_on_sequence_grid(label: np.ndarray, reference: Path, native: Path, transform) -> np.ndarray:
    """The reference-grid ``label`` on a sequence's own grid: nearest neighbour, sequence→reference."""
    import SimpleITK as sitk

    ref = read_image(reference)
    source = sitk.GetImageFromArray(np.asarray(label, np.int16).transpose(2, 1, 0))
    source.CopyInformation(ref)
    moved = sitk.Resample(source, read_image(native), transform.GetInverse(), sitk.sitkNearestNeighbor, 0,
                          sitk.sitkInt16)
    return to_array(moved)


class StudyWriter:
    """Writes the files above for a ``StudyCase`` (any other case: nothing)."""

    def __init__(self, all_grids: bool = False) -> None:
        self.all_grids = all_grids

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case = prediction.case
        if not isinstance(case, StudyCase):
            return []
        output_dir, ref = Path(output_dir), case.reference_sequence
        inputs = [s.native for s in case.sequences]
        reference = next(s for s in case.sequences if s.sequence == ref)
        written: list[Path] = []
        summary: dict[str, Any] = {"reference": ref, "reference_series": reference.series.name,
                                   "reference_image": str(reference.native.resolve()), "sequences": {}}
        for item in case.sequences:
            entry: dict[str, Any] = {"series": item.series.name}
            if item.registration is not None:
                reg = item.registration
                tfm = output_dir / f"{case.case_id}_{item.sequence}_to_{ref}.tfm"
                aligned = output_dir / f"{case.case_id}_{item.sequence}_on_{ref}.nii.gz"
                for path in (tfm, aligned):
                    ensure_not_input(path, inputs)
                written += [write_transform(reg.transform, tfm), copy_file_atomic(item.aligned, aligned)]
                entry.update(transform=tfm.name, aligned=aligned.name, final_metric_mattes_mi=round(reg.metric, 5),
                             rotation_deg=round(reg.rotation_deg, 3), shift_mm=round(reg.translation_mm, 3),
                             iterations=reg.iterations)
                if item.match is not None:  # medseg.study.match: the check it passed
                    match = item.match
                    entry["match"] = {"edge_alignment": round(match.edges, 4),
                                      "mirrored_edge_alignment": round(match.mirrored_edges, 4),
                                      "edge_ratio": round(match.edge_ratio, 4),
                                      "mutual_information": round(match.mutual_information, 4),
                                      "mirrored_mutual_information": round(match.mirrored_mutual_information, 4)}
            else:
                entry.update(aligned=str(item.native.resolve()))
            if self.all_grids and item.registration is not None:
                on_grid = output_dir / f"{case.case_id}_seg_on_{item.sequence}.nii.gz"
                ensure_not_input(on_grid, inputs)
                label = label_on_sequence_grid(prediction.label, reference.native, item.native,
                                               item.registration.transform)
                written.append(write_label_like(label, item.native, on_grid))
                entry["label_on_own_grid"] = on_grid.name
            summary["sequences"][item.sequence] = entry
        measurements = output_dir / f"{case.case_id}_measurements.json"
        if staged(measurements).is_file():  # the measurement writer's file, still pending in the case's set
            document = json.loads(staged(measurements).read_text())
            document["image"] = summary["reference_image"]  # the reference itself, not a resampled copy
            document["registration"] = summary
            write_text_atomic(measurements, json.dumps(document, indent=2) + "\n")
        else:
            written.append(write_text_atomic(output_dir / f"{case.case_id}_registration.json",
                                             json.dumps({"case": case.case_id, "registration": summary}, indent=2)))
        return written
