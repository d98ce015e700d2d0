"""The studies folder as a MONAI Label datastore: images are the studies' shown sequences, labels are
the corrected label maps under ``labels/final/``.

Only labels are ever written, atomically and after ``labelcheck``; no study is added, removed or
replaced through the server. What MONAI Label records about images and labels (who fetched a study
for which strategy, a label's client-side info) lives in the workspace's ``datastore.json``.
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

from monailabel.interfaces.datastore import Datastore, DefaultLabelTag

from medseg.errors import InputError
from medseg.io.atomic import write_text_atomic
from medseg.io.read import CaseFiles
from medseg.label.labelcheck import checked_label
from medseg.label.studies import FINAL, Studies, Study
from medseg.labels import LabelSchema
from medseg.outputs.nifti import write_label_like

INFO = "datastore.json"


class StudyDatastore(Datastore):
    """MONAI Label's ``Datastore`` interface over ``medseg.label.studies.Studies``."""

    def __init__(self, studies: Studies, schema: LabelSchema) -> None:
        self.studies, self.schema = studies, schema
        self._name, self._description = studies.root.name, f"medseg studies in {studies.root}"
        self._info_path = studies.workspace / INFO
        self._lock = threading.Lock()

    # -- names -----------------------------------------------------------------------------------
    def name(self) -> str:
        return self._name

    def set_name(self, name: str) -> None:
        self._name = name

    def description(self) -> str:
        return self._description

    def set_description(self, description: str) -> None:
        self._description = description

    # -- images ----------------------------------------------------------------------------------
    def list_images(self) -> list[str]:
        return list(self.studies.scan())

    def get_image_uri(self, image_id: str) -> str:
        study = self.studies.scan().get(image_id)
        return str(study.shown) if study else ""

    def get_image(self, image_id: str, params=None) -> Any:
        return io.BytesIO(Path(self.get_image_uri(image_id)).read_bytes()) if self.get_image_uri(image_id) else None

    def get_image_info(self, image_id: str) -> dict[str, Any]:
        study = self.studies.scan().get(image_id)
        return self._image_info(study, self._info()) if study else {}

    def update_image_info(self, image_id: str, info: dict[str, Any]) -> None:
        self._update("images", self.studies.get(image_id).id, info)

    def add_image(self, image_id: str, image_filename: str, image_info: dict[str, Any]) -> str:
        raise InputError("this server serves the studies folder as it is: copy a new study into it instead of "
                         "uploading it", self.studies.root)

    def remove_image(self, image_id: str) -> None:
        raise InputError("studies are never removed through the server", self.studies.root)

    def case(self, image_id: str) -> CaseFiles:
        """The study behind an image id, as ``medseg infer`` reads it."""
        return self.studies.case(self.studies.get(image_id))

    # -- labels ----------------------------------------------------------------------------------
    def save_label(self, image_id: str, label_filename: str, label_tag: str, label_info: dict[str, Any]) -> str:
        """Check the label (format, shape, grid, values), then write it on the shown image's exact grid."""
        if label_tag != FINAL:
            raise InputError(f"only reviewed labels (tag '{FINAL}') are stored, not '{label_tag}'", image_id)
        study = self.studies.get(image_id)
        label = checked_label(label_filename, study.shown, self.schema, f"label for study '{study.id}'")
        write_label_like(label, study.shown, self.studies.label_path(study.id))
        self._update("labels", study.id, {**label_info, "ts": int(time.time())})
        return study.id

    def remove_label(self, label_id: str, label_tag: str) -> None:
        self.studies.label_path(label_id, label_tag).unlink(missing_ok=True)

    def get_label_uri(self, label_id: str, label_tag: str) -> str:
        path = self.studies.label_path(label_id, label_tag)
        return str(path) if path.is_file() else ""

    def get_label(self, label_id: str, label_tag: str, params=None) -> Any:
        uri = self.get_label_uri(label_id, label_tag)
        return io.BytesIO(Path(uri).read_bytes()) if uri else None

    def get_labels_by_image_id(self, image_id: str) -> dict[str, str]:
        return {DefaultLabelTag.FINAL.value: image_id} if self.get_label_uri(image_id, FINAL) else {}

    def get_label_by_image_id(self, image_id: str, tag: str) -> str:
        return self.get_labels_by_image_id(image_id).get(tag, "")

    def get_label_info(self, label_id: str, label_tag: str) -> dict[str, Any]:
        return dict(self._info().get("labels", {}).get(label_id, {})) if label_tag == FINAL else {}

    def update_label_info(self, label_id: str, label_tag: str, info: dict[str, Any]) -> None:
        if label_tag == FINAL and self.get_label_uri(label_id, FINAL):
            self._update("labels", label_id, info)

    def get_labeled_images(self, label_tag: str | None = None, labels: list[str] | None = None) -> list[str]:
        return [i for i in self.studies.scan() if self.get_label_uri(i, FINAL)]

    def get_unlabeled_images(self, label_tag: str | None = None, labels: list[str] | None = None) -> list[str]:
        return [i for i in self.studies.scan() if not self.get_label_uri(i, FINAL)]

    def labeled_cases(self) -> list[CaseFiles]:
        """Every study with a corrected label, as training cases (its sequences and the label)."""
        cases = []
        for image_id in self.get_labeled_images():
            case = self.case(image_id)
            cases.append(CaseFiles(case.case_id, case.images, self.studies.label_path(image_id),
                                   missing=case.missing))
        return cases

    # -- the datastore as a whole ----------------------------------------------------------------
    def datalist(self) -> list[dict[str, Any]]:
        return [{"image": self.get_image_uri(i), "label": self.get_label_uri(i, FINAL)} for i in
                self.get_labeled_images()]

    def get_dataset_archive(self, limit_cases: int | None) -> str:
        raise InputError("no dataset archive: the studies and labels/final/ are in the studies folder itself",
                         self.studies.root)

    def refresh(self) -> None:
        """Nothing to reload: every call rescans the folder."""

    def status(self) -> dict[str, Any]:
        total, done = len(self.list_images()), len(self.get_labeled_images())
        return {"total": total, "completed": done, "label_tags": {FINAL: done} if done else {}}

    def json(self) -> dict[str, Any]:
        """The layout of MONAI Label's ``LocalDatastore`` (``objects``: image id -> image and labels)."""
        record, objects = self._info(), {}
        for image_id, study in self.studies.scan().items():  # one scan, not one per study
            labelled = self.studies.label_path(image_id).is_file()
            labels = {FINAL: {"ext": ".nii.gz", "info": record.get("labels", {}).get(image_id, {})}} if labelled else {}
            info = self._image_info(study, record)
            objects[image_id] = {"image": {"ext": _ext(study.shown.name), "info": info}, "labels": labels}
        return {"name": self._name, "description": self._description, "objects": objects}

    @staticmethod
    def _image_info(study: Study, record: dict[str, Any]) -> dict[str, Any]:
        """What clients recorded about the study's image, and where it is."""
        info = dict(record.get("images", {}).get(study.id, {}))
        info.update(path=str(study.shown), name=study.shown.name, study=str(study.path))
        return info

    def _info(self) -> dict[str, Any]:
        try:
            return json.loads(self._info_path.read_text())
        except (OSError, ValueError):
            return {}

    def _update(self, kind: str, key: str, info: dict[str, Any]) -> None:
        with self._lock:
            record = self._info()
            record.setdefault(kind, {}).setdefault(key, {}).update(info)
            write_text_atomic(self._info_path, json.dumps(record, indent=2, default=str))


def _ext(name: str) -> str:
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix
