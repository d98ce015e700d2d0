"""Run directories: a copy of the bundle with the user's overrides baked into its configs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from medseg.aliases import current_name
from medseg.bundle.find import Bundle
from medseg.bundle.trust import is_trusted, seal
from medseg.errors import BundleError, OutputError
from medseg.io.atomic import write_text_atomic

LAST = Path("models") / "checkpoint_last.pt"  # written every epoch; what ``--resume`` continues from
TIME_LIMIT = "time_limit_min"  # the run's time budget in train.json, read by the trainer's ``time_limit``
TRAINER = "medseg.training.trainer.Trainer"


def default_run_dir(bundle: Bundle) -> Path:
    return Path("runs") / bundle.name / time.strftime("%Y%m%d-%H%M%S")


def create_run_bundle(bundle: Bundle, run_dir: Path, overrides: dict[str, Any],
                      time_limit: float | None = None) -> Bundle:
    """Copy the bundle into ``run_dir`` with each override written into the config that defines it, sealed.

    ``time_limit`` (minutes) is written into the run's ``train.json`` whatever the bundle (see
    ``set_time_limit``). Refuses a directory that already holds a trained model, so a finished run
    is never overwritten.
    """
    run_dir = Path(run_dir)
    if (run_dir / Bundle.WEIGHTS).exists():
        raise OutputError("run directory already holds a trained model; choose another --output-dir", run_dir)
    run = bundle.copy_to(run_dir, {k: v for k, v in overrides.items() if k != TIME_LIMIT or time_limit is None})
    if time_limit is not None:
        set_time_limit(run.root, time_limit)
    return run


def set_time_limit(run_dir: str | Path, minutes: float | None) -> Path:
    """Write a run's time budget into its ``train.json``, defining ``time_limit_min`` and passing it to
    medseg's trainer where the bundle did not (a ``bundle new`` bundle from before time budgets), so
    ``medseg train --resume`` and ``python -m monai.bundle run`` keep it. A sealed run stays sealed."""
    path = Path(run_dir) / "configs" / "train.json"
    config = json.loads(path.read_text())
    trainer = config.get("trainer")
    if not (isinstance(trainer, dict) and current_name(str(trainer.get("_target_"))) == TRAINER):  # old runs too
        raise BundleError(f"this bundle's trainer takes no time limit (its 'trainer' is not {TRAINER})", path)
    sealed = is_trusted(run_dir)
    config[TIME_LIMIT] = None if minutes is None else float(minutes)
    trainer["time_limit"] = f"@{TIME_LIMIT}"
    write_text_atomic(path, json.dumps(config, indent=2) + "\n")
    if sealed:
        seal(run_dir)
    return path
