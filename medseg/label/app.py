"""The MONAI Label app that serves a medseg run: one model, one trainer, two Next Sample strategies.

MONAI Label loads its app from ``<app folder>/main.py`` (in the server and again in each Train's own
process); ``medseg label serve`` writes a ``main.py`` that imports ``MedsegApp``. The app folder is the
studies folder's workspace (``.medseg-label/``), which also records the served run.
"""

from __future__ import annotations

from typing import Any

from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.datastore import Datastore
from monailabel.tasks.activelearning.random import Random

from medseg import __version__
from medseg.bundle.find import find_bundle
from medseg.label.datastore import StudyDatastore
from medseg.label.infer import MedsegInfer, label_names
from medseg.label.served import ServedPredictor, ServedRun
from medseg.label.strategy import MostUncertain
from medseg.label.studies import Studies
from medseg.label.train import MedsegTrain


class MedsegApp(MONAILabelApp):
    """``conf`` (strings, as MONAI Label passes them): ``device``, ``trust``, ``time_limit_min``."""

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]) -> None:
        self.served = ServedRun(app_dir)
        self.bundle = find_bundle(self.served.current())
        trust = str(conf.get("trust", "false")).lower() == "true"
        self.predictor = ServedPredictor(self.served, conf.get("device", "auto"), trust)
        self.study_folder = Studies(studies, self.bundle)
        schema = self.bundle.schema
        super().__init__(app_dir, studies, conf, name=f"medseg {self.bundle.name}",
                         description=f"medseg run {self.served.current()} ({self.bundle.metadata.get('task', '')})",
                         version=__version__, labels=label_names(schema))

    @property
    def model_name(self) -> str:
        return self.bundle.name

    def init_datastore(self) -> Datastore:
        return StudyDatastore(self.study_folder, self.bundle.schema)

    def init_infers(self) -> dict[str, MedsegInfer]:
        description = f"medseg {self.bundle.name}: {self.bundle.metadata.get('description', '')}".strip()
        dims = int(self.bundle.metadata.get("medseg", {}).get("dims", 3))
        task = MedsegInfer(self.predictor, self._datastore, self.bundle.schema, description, dims)
        return {self.model_name: task}

    def init_trainers(self) -> dict[str, MedsegTrain]:
        trust = str(self.conf.get("trust", "false")).lower() == "true"
        minutes = float(self.conf.get("time_limit_min", 10))
        # epochs 0: the time budget decides how long a Train runs (Slicer shows both options; set epochs to
        # train that many instead, without a time limit)
        return {self.model_name: MedsegTrain(self.served, 0, minutes, self.predictor.device, trust)}

    def init_strategies(self) -> dict[str, Any]:
        return {"uncertainty": MostUncertain(self.predictor), "random": Random()}

    def init_scoring_methods(self) -> dict[str, Any]:
        return {}
