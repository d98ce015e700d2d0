"""Which run the label server serves, and where a fine-tuned run goes."""

from __future__ import annotations

import json
import time

import pytest

from medseg.errors import InputError
from medseg.label.served import ServedRun, next_run_dir, read_training, write_training

NOON = time.mktime((2025, 3, 4, 12, 0, 0, 0, 0, -1))


def test_served_run_is_recorded_with_the_runs_served_before(tmp_path):
    served = ServedRun(tmp_path)
    with pytest.raises(InputError, match="no served run recorded"):
        served.current()
    served.serve(tmp_path / "runs" / "a")
    served.serve(tmp_path / "runs" / "a")  # serving it again adds no history
    served.serve(tmp_path / "runs" / "b")
    assert served.current() == tmp_path / "runs" / "b"
    assert json.loads((tmp_path / "served.json").read_text())["history"] == [str(tmp_path / "runs" / "a")]


def test_a_fine_tuned_run_is_a_new_sibling_named_after_the_first_run(tmp_path):
    first = next_run_dir(tmp_path / "demo", NOON)
    assert first == tmp_path / "demo-corrected-20250304-120000"
    first.mkdir()
    assert next_run_dir(tmp_path / "demo", NOON) == tmp_path / "demo-corrected-20250304-120000-2"
    assert next_run_dir(first, NOON + 60) == tmp_path / "demo-corrected-20250304-120100"


def test_training_record_round_trips_and_is_empty_before_any_train(tmp_path):
    assert read_training(tmp_path) == {}
    write_training(tmp_path, {"run": "r", "total_epochs": 3})
    assert read_training(tmp_path) == {"run": "r", "total_epochs": 3}
