"""Poly learning-rate decay over epochs or over a wall-clock budget, whichever runs out first.

nnU-Net decays ``lr = lr0 * (1 - progress) ** 0.9``. With a time limit the progress is also the
fraction of the budget already spent (the trainer sets ``elapsed_s`` after each epoch), so the decay
reaches its end when the time does, however fast the machine turns out to be. ``elapsed_s`` is part
of the scheduler's state, so a resumed run continues the same curve.
"""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import LRScheduler


class PolyLR(LRScheduler):
    """``lr0 * (1 - progress) ** exponent``, progress = max(epoch / epochs, elapsed / time limit)."""

    def __init__(self, optimizer: torch.optim.Optimizer, epochs: int, exponent: float = 0.9,
                 time_limit_min: float | None = None, last_epoch: int = -1) -> None:
        self.epochs = max(int(epochs), 1)
        self.exponent = float(exponent)
        self.time_limit_s = float(time_limit_min) * 60 if time_limit_min else None
        self.elapsed_s = 0.0
        super().__init__(optimizer, last_epoch)

    @property
    def progress(self) -> float:
        fraction = self.last_epoch / self.epochs
        if self.time_limit_s:
            fraction = max(fraction, self.elapsed_s / self.time_limit_s)
        return min(max(fraction, 0.0), 1.0)

    def get_lr(self) -> list[float]:
        factor = (1.0 - self.progress) ** self.exponent
        return [base * factor for base in self.base_lrs]
