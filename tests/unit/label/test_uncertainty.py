"""Next Sample's uncertainty: mean entropy of the probabilities, scored once per study and run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from medseg.label.uncertainty import UncertaintyScores, mean_entropy


def test_entropy_of_certain_and_undecided_probabilities():
    certain = np.zeros((3, 4, 4, 4), np.float32)
    assert mean_entropy(certain, "overlapping") == pytest.approx(0, abs=1e-5)
    assert mean_entropy(np.full((3, 4, 4, 4), 0.5), "overlapping") == pytest.approx(math.log(2))
    uniform = np.full((4, 5, 5, 5), 0.25)
    assert mean_entropy(uniform, "exclusive") == pytest.approx(math.log(4))
    half = np.zeros((2, 2, 1, 1))
    half[:, 0] = 0.5  # one voxel undecided between two classes, one certain
    half[0, 1] = 1.0
    assert mean_entropy(half, "exclusive") == pytest.approx(math.log(2) / 2, abs=1e-5)


def test_scores_are_computed_once_per_run_and_afresh_for_a_new_run(tmp_path):
    calls = []

    def score(study):
        calls.append(study)
        return {"a": 0.1, "b": 0.3}[study]

    scores = UncertaintyScores(tmp_path)
    assert scores.for_run(Path("run1"), ["a", "b"], score) == {"a": 0.1, "b": 0.3}
    assert scores.for_run(Path("run1"), ["b"], score) == {"b": 0.3}
    assert UncertaintyScores(tmp_path).for_run(Path("run1"), ["a"], score) == {"a": 0.1}  # kept in the workspace
    assert calls == ["a", "b"]
    scores.for_run(Path("run2"), ["a"], score)
    assert calls == ["a", "b", "a"]
