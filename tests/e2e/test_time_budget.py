"""``--time-limit`` end to end on tiny phantoms: the budget is spent on training, the last epoch stops in time
(validated, checkpointed, resumable), resume keeps the budget, and the user is told what it bought.

The first tests run on a clock that counts work (``budget_worker.WorkClock``), so where a run stops is
exact on any machine; the CLI test runs on the wall clock.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from medseg.bundle.runs import LAST, set_time_limit
from medseg.bundle.trust import is_trusted
from medseg.cli import main
from tests.cli_helpers import override_args
from tests.conftest import TINY
from tests.e2e.budget_worker import WorkClock, budgeted_trainer

pytestmark = pytest.mark.slow
SLACK = 1.15  # a wall-clock budget on a loaded 2-core machine


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_an_epoch_longer_than_the_budget_stops_mid_way_validated_and_checkpointed(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    trainer = budgeted_trainer(run, tiny_dataset, 0.5, WorkClock(), {"iterations_per_epoch": 100})
    result = trainer.run()
    # 2 s probing one of the 2 validation cases (once untimed, once timed: 1 s), so 2.5 s guessed for the
    # validation and 0.3 s of margin kept: 25 one-second iterations end at 27 s (a 26th would pass 30 - 2.8),
    # the 2-case validation at 29 s
    (row,) = _rows(run)
    assert int(row["iterations"]) == 25 < 100 and float(row["budget_s"]) == 29.0
    assert row["dice_mean"] and result.best_epoch == 1  # the stopped epoch was validated, its weights kept
    assert float(row["lr"]) < 0.1 * trainer.base_lrs[0]  # the decay ran to the end of the budget
    saved = torch.load(run / LAST, weights_only=True)
    assert saved["epoch"] == 1 and saved["budget"] == {"spent_s": 29.0, "time_limit_min": 0.5, "out_of_time": True}
    assert (run / "models" / "model.pt").is_file()
    assert result.budget.line() == "time budget 0.5 min: used 0.5 min for 1 epoch (25 iterations); " \
                                   f"best validation Dice {float(row['dice_mean']):.4f} at epoch 1"
    assert "### Time budget" in (run / "docs" / "README.md").read_text()

    # resumed as it is: the budget is spent, nothing trains (no data is even read)
    again = budgeted_trainer(run, tiny_dataset, 0.5, WorkClock(), resume=True).run()
    assert again.budget.already_spent and len(_rows(run)) == 1
    assert torch.load(run / LAST, weights_only=True)["epoch"] == 1

    # a larger total budget trains on from the 29 s already spent
    set_time_limit(run, 1.0)
    assert is_trusted(run)  # medseg's own edit keeps the run sealed
    more = budgeted_trainer(run, tiny_dataset, 1.0, WorkClock(), resume=True).run()
    rows = _rows(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2] and not more.budget.already_spent
    assert 29.0 < float(rows[1]["budget_s"]) <= 60.0 and more.budget.iterations == 25 + int(rows[1]["iterations"])


def test_keep_model_final_keeps_the_last_weights_and_says_so(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    overrides = {"iterations_per_epoch": 5, "val_interval": 1, "keep_model": "final"}
    result = budgeted_trainer(run, tiny_dataset, 0.5, WorkClock(), overrides).run()
    rows = _rows(run)
    assert len(rows) > 1 and result.kept == "final" and result.best_epoch == int(rows[-1]["epoch"])
    assert result.best_metric == pytest.approx(float(rows[-1]["dice_mean"]))
    final = torch.load(run / LAST, weights_only=True)["model"]
    kept = torch.load(run / "models" / "model.pt", weights_only=True)
    assert kept.keys() == final.keys() and all(torch.equal(kept[k], final[k]) for k in kept)
    assert result.budget.bought().endswith(f"final model: validation Dice {float(rows[-1]['dice_mean']):.4f} "
                                           f"at epoch {rows[-1]['epoch']}")
    again = budgeted_trainer(run, tiny_dataset, 0.5, WorkClock(), resume=True).run()  # spent: says the same
    assert again.budget.already_spent and again.budget.bought() == result.budget.bought()


def test_resume_keeps_the_budget_of_a_stopped_run_and_says_what_is_left(tiny_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    clock = WorkClock()
    trainer = budgeted_trainer(run, tiny_dataset, 0.5, clock, {"iterations_per_epoch": 5, "epochs": 2})
    loss, calls = trainer.loss, []

    def stop_at_iteration_8(output, target):  # SIGTERM mid-run: stop after this epoch's checkpoint
        calls.append(1)
        if len(calls) == 8:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss(output, target)

    trainer.loss = stop_at_iteration_8
    from medseg.errors import TrainingStopped

    with pytest.raises(TrainingStopped, match="after epoch 2 of ~"):
        trainer.run()
    spent = torch.load(run / LAST, weights_only=True)["budget"]
    assert spent["out_of_time"] is False and 0 < spent["spent_s"] < 30

    resumed = budgeted_trainer(run, tiny_dataset, 0.5, WorkClock(), resume=True)
    resumed.progress = True
    result = resumed.run()
    left = (30 - spent["spent_s"]) / 60
    assert f"resuming {run}: {left:.1f} of its 0.5-minute time budget left" in capsys.readouterr().err
    rows = _rows(run)
    # past the configs' 2 epochs: the budget, not the epoch count, says when training ends
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1)) and len(rows) > 2
    used = float(rows[-1]["budget_s"])
    assert 30 - 5 < used <= 30  # the rest of the same budget was spent, not a fresh one
    assert result.budget.used_s == pytest.approx(used, abs=0.01)
    assert int(rows[-1]["iterations"]) <= 5 and torch.load(run / LAST, weights_only=True)["budget"]["out_of_time"]


def test_cli_trains_through_the_budget_tells_what_it_bought_and_resume_keeps_it(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    small = override_args({**TINY, "val_interval": 2})
    result = CliRunner().invoke(main, ["train", "brain_tumor", "--data", str(tiny_dataset), "--output-dir", str(run),
                                       "--device", "cpu", "--time-limit", "0.1", *small])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert epochs and all(re.fullmatch(r"epoch \d+/~\d+: loss \d\.\d{4}(, validation Dice \d\.\d{4})?, \d+\.\d s, "
                                       r"0\.\d min left", line) for line in epochs), lines
    assert "validation Dice" in epochs[-1]  # the last epoch validates whatever the interval
    # how much of it was used depends on this machine's speed (a loaded one overruns 6 s with the last
    # validation, and says so); the WorkClock tests above check the exact stop
    assert re.fullmatch(r"time budget 0\.1 min: used \d+\.\d min for \d+ epochs? \([\d,]+ iterations?\); "
                        r"final model: validation Dice \d\.\d{4} at epoch \d+", lines[-1]), lines  # planned: final
    rows = _rows(run)
    # the budget covers data caching too; on the wall clock of a shared machine a little slack (WorkClock above
    # checks the exact stop), unless the machine was too slow for more than the one iteration always trained
    assert float(rows[-1]["budget_s"]) <= 6.0 * SLACK or int(rows[-1]["iterations"]) == 1, rows[-1]
    assert json.loads((run / "configs" / "train.json").read_text())["time_limit_min"] == 0.1

    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    assert "0.1-minute time budget is spent" in line and "--time-limit MIN (a larger total)" in line
    assert len(_rows(run)) == len(rows)

    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--device", "cpu", "--time-limit", "0.2"])
    assert result.exit_code == 0, result.output
    assert re.search(r"resuming .*: 0\.\d of its 0\.2-minute time budget left", result.output), result.output
    assert len(_rows(run)) > len(rows) and float(_rows(run)[-1]["budget_s"]) <= 12.0 * SLACK
    assert json.loads((run / "configs" / "train.json").read_text())["time_limit_min"] == 0.2


def test_epochs_and_a_time_limit_together_are_refused(tiny_dataset, tmp_path):
    result = CliRunner().invoke(main, ["train", "brain_tumor", "--data", str(tiny_dataset), "--output-dir",
                                       str(tmp_path / "run"), "--epochs", "3", "--time-limit", "1"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "--epochs and --time-limit both set how long to train" in line and not (tmp_path / "run").exists()
