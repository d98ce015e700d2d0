"""Run directories: a copy of the bundle with the user's overrides baked into its configs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from medseg.bundles import Bundle
from medseg.errors import OutputError

LAST = Path("models") / "checkpoint_last.pt"  # written every epoch; what ``--resume`` continues from


def default_run_dir(bundle: Bundle) -> Path:
    return Path("runs") / bundle.name / time.strftime("%Y%m%d-%H%M%S")


def create_run_bundle(bundle: Bundle, run_dir: Path, overrides: dict[str, Any]) -> Bundle:
    """Copy the bundle into ``run_dir`` with each override written into the config that defines it, sealed.

    Refuses a directory that already holds a trained model, so a finished run is never overwritten.
    """
    run_dir = Path(run_dir)
    if (run_dir / Bundle.WEIGHTS).exists():
        raise OutputError("run directory already holds a trained model; choose another --output-dir", run_dir)
    return bundle.copy_to(run_dir, overrides)
