"""Next Sample by uncertainty: the unlabelled study whose probabilities have the highest mean entropy."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("monailabel", reason="MONAI Label not installed (pip install 'medseg[label]')")

from medseg.label.strategy import MostUncertain  # noqa: E402

CONFIDENCE = {"a": 0.99, "b": 0.6, "c": 0.9, "d": 0.5}  # d is the least sure, but already labelled


class FakePredictor:
    """A served run whose probabilities for a study are a constant: how sure it is of that study."""

    def __init__(self, workspace: Path, run: str = "run1") -> None:
        self.served = SimpleNamespace(workspace=workspace)
        self.run, self.calls = Path(run), []
        self.schema = SimpleNamespace(mode="overlapping")

    def get(self):
        return self.run, self

    def predict(self, case):
        self.calls.append(case)
        return SimpleNamespace(probabilities=np.full((3, 4, 4, 4), CONFIDENCE[case], np.float32))


class FakeStore:
    def get_unlabeled_images(self):
        return ["a", "b", "c"]

    def case(self, image_id):
        return image_id


def test_the_least_sure_unlabelled_study_comes_next_and_is_scored_once_per_run(tmp_path):
    predictor = FakePredictor(tmp_path)
    strategy = MostUncertain(predictor)
    first = strategy({"strategy": "uncertainty"}, FakeStore())
    assert first["id"] == "b" and first["entropy"] > 0 and first["run"] == "run1"
    assert strategy({}, FakeStore())["id"] == "b"
    assert sorted(predictor.calls) == ["a", "b", "c"]  # the second request reused the scores
    predictor.run = Path("run2")
    strategy({}, FakeStore())
    assert len(predictor.calls) == 6


def test_nothing_is_offered_when_every_study_is_labelled(tmp_path):
    class Done(FakeStore):
        def get_unlabeled_images(self):
            return []

    assert MostUncertain(FakePredictor(tmp_path))({}, Done()) is None
