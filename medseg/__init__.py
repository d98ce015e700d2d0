"""medseg: medical image segmentation on MONAI: bundles, training, inference, evaluation.

Heavy modules (torch, MONAI) load on first use, so ``import medseg`` and ``medseg --help`` stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from medseg.aliases import install

install()  # old module names (in the configs of sealed runs) resolve to the modules they became

__version__ = "0.1.0"

_LAZY = {
    "train": "medseg.api",
    "plan": "medseg.api",
    "predict": "medseg.api",
    "write_demo_data": "medseg.api",
    "Predictor": "medseg.inference.predictor",
    "evaluate_predictions": "medseg.evaluation",
    "find_bundle": "medseg.bundle.find",
    "LabelSchema": "medseg.labels",
    "MedsegError": "medseg.errors",
    "build_report": "medseg.outputs.report",
    "export_network": "medseg.bundle.export",
    "zip_bundle": "medseg.bundle.export",
    "write_dicom_seg": "medseg.outputs.dicom_seg",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'medseg' has no attribute {name!r}")
