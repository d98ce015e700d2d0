"""Old module names keep working: one table of moved modules, one import finder.

Bundle configs name medseg's classes by dotted path (``"_target_": "medseg.io.slicer.SlicerSegWriter"``),
and a sealed run cannot be edited: every run trained before the stage packages names the modules of
its time. ``MOVED`` maps each old module name to the module it became; ``AliasFinder``, first on
``sys.meta_path`` from ``import medseg`` on, makes the old name import the very same module object
(``sys.modules[old] is sys.modules[new]``), so classes keep one identity and ``isinstance``, pickling
and MONAI's ``locate`` agree. A name below a moved package follows its package
(``medseg.zoo.network`` → ``medseg.bundle.zoo.network``). The finder answers for old names only and
runs no file itself, so the sealed-bundle import check (``medseg.bundle.sealed_imports``) judges the
module it resolves to, under its new name.

Classes or functions that were renamed, not only moved, are in ``medseg.inference.legacy``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

MOVED: dict[str, str] = {
    "medseg.bundles": "medseg.bundle.find",
    "medseg.data.plan2d": "medseg.planning.planar",
    "medseg.data.plan3d": "medseg.planning.intensity",
    "medseg.engine": "medseg.runtime",
    "medseg.engine.budget": "medseg.training.budget",
    "medseg.engine.epoch_log": "medseg.training.epoch_log",
    "medseg.engine.infer": "medseg.inference.predictor",
    "medseg.engine.loaders": "medseg.training.loaders",
    "medseg.engine.planar": "medseg.inference.legacy",
    "medseg.engine.state": "medseg.training.state",
    "medseg.engine.train": "medseg.training.trainer",
    "medseg.evaluate": "medseg.evaluation",
    "medseg.export": "medseg.bundle.export",
    "medseg.io.dicom_seg": "medseg.outputs.dicom_seg",
    "medseg.io.planar_write": "medseg.outputs.planar",
    "medseg.io.probabilities": "medseg.outputs.probabilities",
    "medseg.io.slicer": "medseg.outputs.slicer",
    "medseg.io.write": "medseg.outputs.nifti",
    "medseg.io.xray_seg": "medseg.outputs.xray_seg",
    "medseg.io.xray_write": "medseg.outputs.xray",
    "medseg.losses": "medseg.training.losses",
    "medseg.measure": "medseg.outputs.measurements",
    "medseg.metrics": "medseg.evaluation.metrics",
    "medseg.newbundle": "medseg.bundle.create",
    "medseg.overlay": "medseg.outputs.overlay",
    "medseg.plausibility": "medseg.outputs.plausibility",
    "medseg.postchoice": "medseg.inference.postprocessing_search",
    "medseg.postprocess": "medseg.inference.postprocessing",
    "medseg.provenance": "medseg.bundle.provenance",
    "medseg.report": "medseg.outputs.report",
    "medseg.runs": "medseg.bundle.runs",
    "medseg.study.writers": "medseg.outputs.study",
    "medseg.templates": "medseg.bundle.templates",
    "medseg.transforms.xray": "medseg.inference.legacy",
    "medseg.trust": "medseg.bundle.trust",
    "medseg.trust_imports": "medseg.bundle.sealed_imports",
    "medseg.tta": "medseg.inference.tta",
    "medseg.zoo": "medseg.bundle.zoo",
}


def new_module_name(name: str) -> str | None:
    """The module an old module name now is, or ``None`` for a name that did not move."""
    if name in MOVED:
        return MOVED[name]
    package = name
    while "." in package:
        package = package.rpartition(".")[0]
        if package in MOVED:
            return MOVED[package] + name[len(package):]
    return None


def current_name(dotted: str) -> str:
    """A dotted name as it is now: ``medseg.engine.train.Trainer`` → ``medseg.training.trainer.Trainer``."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        moved = new_module_name(".".join(parts[:end]))
        if moved is not None:
            return ".".join([moved, *parts[end:]])
    return dotted


class _AliasLoader(importlib.abc.Loader):
    """Loads an old name as the module it became: no code runs twice, and that module keeps its own spec."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self.spec = module.__spec__  # the import system sets the old name's spec on it next
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec


class AliasFinder(importlib.abc.MetaPathFinder):
    """Finds old module names (``MOVED``); every other name is left to the finders after it."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("medseg."):
            return None  # every other import (torch's thousands of modules) passes at the cost of one test
        moved = new_module_name(fullname)
        if moved is None or importlib.util.find_spec(moved) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(moved))


FINDER = AliasFinder()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once), so an old name never reaches the file finders."""
    if FINDER not in sys.meta_path:
        sys.meta_path.insert(0, FINDER)
