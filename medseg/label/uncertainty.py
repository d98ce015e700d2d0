"""How unsure the served run is about a study: the mean entropy of medseg's probabilities over its voxels.

Scores are kept in the workspace per run (``uncertainty.json``): a study is scored once per run, and a
new run (after Train) scores every study afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from medseg.io.atomic import write_text_atomic

SCORES = "uncertainty.json"
_EPS = 1e-7


def mean_entropy(probabilities: np.ndarray, mode: str) -> float:
    """Mean entropy (nats) per voxel of probabilities (C, *spatial).

    ``overlapping`` channels are independent sigmoids: the binary entropy of each, averaged over
    channels; ``exclusive`` channels are one softmax: the categorical entropy across them.
    """
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1 - _EPS)
    if mode == "overlapping":
        return float(np.mean(-(p * np.log(p) + (1 - p) * np.log(1 - p))))
    return float(np.mean(-(p * np.log(p)).sum(axis=0)))


class UncertaintyScores:
    """Per-run scores of studies, computed on demand by ``score`` (a study id -> its mean entropy)."""

    def __init__(self, workspace: str | Path) -> None:
        self.path = Path(workspace) / SCORES

    def for_run(self, run: Path, studies: Iterable[str], score: Callable[[str], float]) -> dict[str, float]:
        """Every study's score for ``run``, computing (and recording) those not scored yet."""
        record = self._read()
        known: dict[str, float] = record.get("scores", {}) if record.get("run") == str(run) else {}
        wanted = list(studies)
        for study in wanted:
            if study not in known:
                known[study] = score(study)
                write_text_atomic(self.path, json.dumps({"run": str(run), "scores": known}, indent=2))
        return {study: known[study] for study in wanted}

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
