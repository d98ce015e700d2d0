"""Train's bookkeeping: nothing to train on is one line; progress and the validation Dice reach Slicer's bars."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("monailabel", reason="MONAI Label not installed (pip install 'medseg[label]')")

from medseg.errors import InputError  # noqa: E402
from medseg.label.served import ServedRun, write_training  # noqa: E402
from medseg.label.train import MedsegTrain  # noqa: E402


def test_train_without_corrected_labels_is_refused(tmp_path):
    task = MedsegTrain(ServedRun(tmp_path), epochs=5, time_limit=2.0)
    studies = SimpleNamespace(label_path=lambda study: tmp_path / "labels" / "final" / f"{study}.nii.gz")
    store = SimpleNamespace(labeled_cases=lambda: [], studies=studies)
    with pytest.raises(InputError, match="no corrected labels yet: Submit Label"):
        task({}, store)
    assert task.config() == {"epochs": 5, "time_limit_min": 2.0}


def test_stats_follow_the_runs_metrics_while_training_and_report_the_kept_dice_after(tmp_path):
    task = MedsegTrain(ServedRun(tmp_path), epochs=3, time_limit=2.0)
    assert task.stats() == {}
    run = tmp_path / "runs" / "bt-corrected-20250101-000000"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,train_loss,dice_mean\n1,0.9,0.40\n2,0.8,\n")
    record = {"run": str(run), "total_epochs": 3, "start_ts": time.time() - 5}
    write_training(tmp_path, record)
    running = task.stats()
    assert running["epoch"] == 2 and running["total_epochs"] == 3 and running["best_metric"] == pytest.approx(0.4)
    assert "current_time" in running and "total_time" not in running
    write_training(tmp_path, {**record, "end_ts": time.time(), "best_metric": 0.35})
    done = task.stats()
    assert done["best_metric"] == 0.35 and "total_time" in done
    write_training(tmp_path, {**record, "run": str(Path(tmp_path / "absent")), "end_ts": time.time(),
                              "best_metric": None, "error": "stopped"})
    assert "best_metric" not in task.stats() and task.stats()["error"] == "stopped"
