"""The served run as a MONAI Label segmentation model: ``/infer/<model>`` runs medseg's own Predictor.

The label map is the one ``medseg infer RUN --input <study>`` writes (same preprocessing, inversion onto
the input grid and post-processing, written by the run's own NIfTI label writer), so the mask Slicer
shows is the mask the command line would have written, voxel for voxel.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from monailabel.interfaces.tasks.infer_v2 import InferTask, InferType

from medseg.errors import InputError
from medseg.io.atomic import prepare_output_dir
from medseg.io.read import CaseFiles
from medseg.label.datastore import StudyDatastore
from medseg.label.served import ServedPredictor
from medseg.labels import LabelSchema
from medseg.outputs.nifti import NiftiLabelWriter


def label_names(schema: LabelSchema) -> dict[str, int]:
    """MONAI Label's label list: name -> value in the label map, in value order (how Slicer orders segments)."""
    return {label.name: label.value for label in sorted(schema.labels, key=lambda label: label.value)}


def label_colors(schema: LabelSchema) -> dict[str, list[int]]:
    return {label.name: list(label.color) for label in schema.labels}


class MedsegInfer(InferTask):
    """Segment a study of the datastore with the served run."""

    def __init__(self, predictor: ServedPredictor, datastore: StudyDatastore, schema: LabelSchema,
                 description: str, dimension: int = 3) -> None:
        super().__init__(InferType.SEGMENTATION, label_names(schema), dimension, description)
        self.predictor, self.datastore, self.schema = predictor, datastore, schema

    def info(self) -> dict[str, Any]:
        """MONAI Label's model info, with the bundle's colours and the run being served."""
        served = str(self.predictor.served.current())
        return {**super().info(), "label_colors": label_colors(self.schema), "run": served}

    def is_valid(self) -> bool:
        return True

    def __call__(self, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        started = time.perf_counter()
        run, predictor = self.predictor.get()
        case = self._case(request["image"])
        prediction = predictor.predict(case)
        writer = next((w for w in predictor.writers if isinstance(w, NiftiLabelWriter)), NiftiLabelWriter())
        results = prepare_output_dir(self.predictor.served.workspace / "results")  # MONAI Label deletes each once sent
        scratch = Path(tempfile.mkdtemp(dir=results))
        try:
            written = writer(prediction, scratch)[0]
            handle, result = tempfile.mkstemp(prefix=f"{case.case_id}-", suffix=".nii.gz", dir=results)
            os.close(handle)
            os.replace(written, result)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        seconds = round(time.perf_counter() - started, 3)
        return result, {"label_names": label_names(self.schema), "run": str(run), "study": case.case_id,
                        "latencies": {"total": seconds}}

    def _case(self, image: str) -> CaseFiles:
        """The study whose shown file MONAI Label resolved ``image`` to. Only the studies folder is served: a path
        or an uploaded file is refused, so a client cannot have the server read files outside it."""
        study = self.datastore.studies.find_shown(image)
        if study is None:
            raise InputError("not a study of this server (Next Sample picks one; uploads are not taken)", image)
        return self.datastore.studies.case(study)
