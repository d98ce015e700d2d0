"""``--time-limit``: the learning rate decays over the wall-clock budget and the last epoch is foreseen."""

import time

import pytest
import torch

from medseg.engine.train import TimeBudget


def test_learning_rate_decays_over_the_budget_and_training_stops_in_time(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    clock = TimeBudget(1.0, optimiser)  # 60 s
    clock.set_learning_rate()
    assert optimiser.param_groups[0]["lr"] == pytest.approx(0.01)
    now[0] += 30
    clock.set_learning_rate()
    assert optimiser.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**0.9)
    assert not clock.last_epoch(train_s=10)  # 30 + 10 < 60
    clock.validated({"seconds": 14.0, "data_s": 1.0, "step_s": 10.0, "dice_mean": 0.5})  # validation took 3 s
    now[0] += 15
    assert clock.last_epoch(train_s=10)  # 45 + 10 + 2 * 3 > 60: the next epoch would not fit


def test_no_limit_changes_nothing():
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    clock = TimeBudget(None, optimiser)
    clock.set_learning_rate()
    assert optimiser.param_groups[0]["lr"] == 0.01 and not clock.last_epoch(1e9)
