"""The Python API: one function per ``medseg`` command, so a Python caller gets what the CLI gets.

The CLI (``medseg.cli``) parses options and prints; every decision is made here or below. Each
module is one command's front door to its stage package: ``training`` (``medseg train``),
``planning`` (``medseg plan``), ``prediction`` (``medseg infer``), ``evaluation`` (``medseg
evaluate``), ``datasets`` (``medseg data demo|import``), ``checking``
(``medseg data check``), ``bundles`` (``medseg bundle list|verify|trust``),
``packaging`` (``medseg bundle new|import-zoo|export``), ``dicom`` (``medseg dicom-seg``).
Names load on first use, so a light command (``medseg bundle list``) never imports torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "train": "medseg.api.training",
    "relaunch_under_torchrun": "medseg.api.training",
    "summary": "medseg.api.training",
    "plan": "medseg.api.planning",
    "PlanAnswer": "medseg.api.planning",
    "predict": "medseg.api.prediction",
    "evaluate": "medseg.api.evaluation",
    "write_demo_data": "medseg.api.datasets",
    "demo_manifest": "medseg.api.datasets",
    "import_data": "medseg.api.datasets",
    "import_xray": "medseg.api.datasets",
    "check_data": "medseg.api.checking",
    "bundle_tasks": "medseg.api.bundles",
    "verify": "medseg.api.bundles",
    "trust_bundle": "medseg.api.bundles",
    "parse_overrides": "medseg.api.bundles",
    "create_bundle": "medseg.api.packaging",
    "import_zoo": "medseg.api.packaging",
    "export_run": "medseg.api.packaging",
    "label_to_dicom_seg": "medseg.api.dicom",
    "build_report": "medseg.outputs.report",  # ``medseg report``: the report module is its own front door
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'medseg.api' has no attribute {name!r}")
