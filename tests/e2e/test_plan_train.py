"""``medseg train`` plans by default, writes the plan into the run, lets --override win, and keeps time."""

from __future__ import annotations

import csv
import json

import pytest

import medseg
from tests.conftest import TINY

pytestmark = pytest.mark.slow


def test_train_writes_the_plan_into_the_run_and_overrides_win(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    medseg.train("brain_tumor", data=tiny_dataset, output_dir=run, epochs=1, device="cpu",
                 overrides={**TINY, "learning_rate": 0.002}, progress=False)
    train = json.loads((run / "configs" / "train.json").read_text())
    inference = json.loads((run / "configs" / "inference.json").read_text())
    plan = train["plan"]
    assert plan["device"] == "cpu" and plan["network"]["deep_supervision"]
    assert inference["spacing"] == plan["spacing"]  # inference resamples like training did
    assert inference["network_def"]["_target_"] == "monai.networks.nets.DynUNet"
    assert inference["network_def"]["filters"] == TINY["network_def"]["filters"]  # --override wins over the plan
    assert train["learning_rate"] == 0.002 and train["augmentation"] == "light"  # a CPU schedule is short
    # real studies miss sequences: half the patches show a subset of those present; the demo recipe has 0
    assert train["modality_dropout"]["prob"] == 0.5 and train["modality_dropout"]["among"] == "present"
    assert train["foreground_share"] == 0.5  # decided on validation folds (RESULTS.md); the demo keeps 2 in 3
    assert train["keep_model"] == "final"  # the schedule ends at learning rate 0: its last weights are the model
    assert train["optimizer"]["_target_"] == "torch.optim.AdamW"  # a short schedule (plan.optimizer_for)
    assert (run / "models" / "model.pt").is_file()


def test_demo_recipe_and_no_plan_keep_the_bundle_configs(tiny_dataset, tmp_path):
    medseg.train("brain_tumor", data=tiny_dataset, demo=True, output_dir=tmp_path / "run", epochs=1,
                 device="cpu", overrides=TINY, progress=False)
    train = json.loads((tmp_path / "run" / "configs" / "train.json").read_text())
    assert train["plan"] is None and train["augmentation"] == "light" and train["modality_dropout"]["prob"] == 0.0
    assert train["foreground_share"] is None and train["keep_model"] == "best"


def test_time_limit_stops_training_and_ends_the_learning_rate_decay(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    result = medseg.train("brain_tumor", data=tiny_dataset, output_dir=run, device="cpu",
                          overrides={**TINY, "val_interval": 100}, progress=False, time_limit=0.25)
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert 1 <= len(rows) < 500 and result.best_epoch == len(rows)
    assert "dice_mean" in rows[-1] and rows[-1]["dice_ema"]  # the last epoch is validated
    seconds = sum(float(r["seconds"]) for r in rows)
    assert seconds < 0.25 * 60 + 2 * max(float(r["seconds"]) for r in rows)
    lrs = [float(r["lr"]) for r in rows]
    assert lrs == sorted(lrs, reverse=True)
    assert json.loads((run / "configs" / "train.json").read_text())["time_limit_min"] == 0.25
