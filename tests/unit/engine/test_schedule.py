"""Poly learning-rate decay over epochs or over a time budget."""

from __future__ import annotations

import pytest
import torch

from medseg.engine.schedule import PolyLR


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)


def test_poly_decay_over_epochs():
    scheduler = PolyLR(_optimizer(), epochs=10, exponent=0.9)
    lrs = []
    for _ in range(10):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    assert lrs[0] == pytest.approx(0.01 * 0.9**0.9)
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == 0.0


def test_time_limit_drives_the_decay_when_it_runs_out_first():
    scheduler = PolyLR(_optimizer(), epochs=1000, time_limit_min=1.0)
    scheduler.elapsed_s = 30.0  # half the budget after one epoch
    scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(0.01 * 0.5**0.9)
    state = scheduler.state_dict()
    resumed = PolyLR(_optimizer(), epochs=1000, time_limit_min=1.0)
    resumed.load_state_dict(state)
    assert resumed.elapsed_s == 30.0 and resumed.progress == pytest.approx(0.5)
