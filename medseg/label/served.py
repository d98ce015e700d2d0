"""Which run the label server serves, and the Predictor for it.

``served.json`` in the server's workspace names the run; ``medseg label serve RUN`` writes it at start and
a finished Train rewrites it with the new run. Training runs in another process (MONAI Label starts
one per Train), so the serving process reads the file on every request and loads the new run's
Predictor when it changed. A fine-tuned run is written beside the run it started from, never over it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from medseg.errors import InputError
from medseg.inference.predictor import Predictor
from medseg.io.atomic import write_text_atomic

SERVED = "served.json"
TRAINING = "training.json"  # the Train in progress or last finished: its run, epochs, validation Dice
_FINE_TUNED = re.compile(r"-corrected-\d{8}-\d{6}(-\d+)?$")


class ServedRun:
    """The workspace's record of the served run (and of the runs served before it)."""

    def __init__(self, workspace: str | Path) -> None:
        self.workspace = Path(workspace)

    def current(self) -> Path:
        try:
            return Path(json.loads((self.workspace / SERVED).read_text())["run"])
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"no served run recorded ({exc}); start the server with medseg label serve RUN",
                             self.workspace / SERVED) from exc

    def serve(self, run: str | Path) -> None:
        """Serve ``run`` from now on (an atomic rewrite: a reader sees the old run or the new one)."""
        record = self._record()
        history, current = record.get("history", []), record.get("run")
        if current and current != str(run):
            history = [*history, current]
        write_text_atomic(self.workspace / SERVED, json.dumps({"run": str(run), "history": history}, indent=2))

    def _record(self) -> dict[str, Any]:
        try:
            return json.loads((self.workspace / SERVED).read_text())
        except (OSError, ValueError):
            return {}


def next_run_dir(run: str | Path, now: float | None = None) -> Path:
    """``<run>-corrected-<timestamp>`` beside ``run`` (a run fine-tuned again keeps the first run's name)."""
    run = Path(run)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = run.parent / f"{_FINE_TUNED.sub('', run.name)}-corrected-{stamp}"
    target, n = base, 1
    while target.exists():  # two Trains within one second
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    return target


def read_training(workspace: str | Path) -> dict[str, Any]:
    try:
        return json.loads((Path(workspace) / TRAINING).read_text())
    except (OSError, ValueError):
        return {}


def write_training(workspace: str | Path, record: dict[str, Any]) -> None:
    write_text_atomic(Path(workspace) / TRAINING, json.dumps(record, indent=2))


class ServedPredictor:
    """medseg's own ``Predictor`` for the served run, reloaded when a Train has replaced the run."""

    def __init__(self, served: ServedRun, device: str = "auto", trust: bool = False) -> None:
        self.served, self.device, self.trust = served, device, trust
        self._lock = threading.Lock()  # MONAI Label may call tasks from several threads
        self._loaded: tuple[Path, Predictor] | None = None

    def get(self) -> tuple[Path, Predictor]:
        """The served run and its Predictor (built as ``medseg infer RUN`` builds it)."""
        run = self.served.current()
        with self._lock:
            if self._loaded is None or self._loaded[0] != run:
                self._loaded = (run, Predictor.from_bundle(run, device=self.device, trust=self.trust))
            return self._loaded
