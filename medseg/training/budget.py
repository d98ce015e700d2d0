"""``--time-limit``: a training time budget that is spent on training, and what it bought.

The budget measures what each piece of work costs on its own clock (seconds per iteration, per
validation, per checkpoint) and plans from it: the learning rate decays polynomially over the share
of the budget spent, set before every iteration, and training stops at the last iteration after
which the final validation and checkpoint still fit. An epoch count does not bound a budgeted run;
the budget does, so a run ends near its limit however fast the data is.

The clock is one injectable function (``time.perf_counter`` by default; ``time.process_time``
budgets CPU time instead, for a benchmark on a loaded machine). Under DDP each rank keeps a budget,
but only rank 0's decisions count: the trainer broadcasts them (``distributed.from_main_process``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from medseg.errors import InputError

POWER = 0.9  # nnU-Net's polynomial decay exponent
SMOOTHING = 0.2  # weight of the newest measurement in each running estimate
PROBE_SAFETY = 1.25  # validation time guessed from one case is scaled up until a whole validation is timed


def positive_minutes(minutes: float) -> float:
    """A time limit as a float, refused in one line unless it is a positive finite number of minutes."""
    if not (math.isfinite(float(minutes)) and float(minutes) > 0):
        raise InputError(f"the time limit must be a positive number of minutes, got {minutes}")
    return float(minutes)


class TimeBudget:
    """A wall-clock (or ``clock``) budget for one training run, in minutes.

    ``spent_s``: what earlier sessions of the same run used (``medseg train --resume`` keeps the
    budget). ``margin_s``: kept free for writing the last outputs (default 1 % of the budget).
    """

    def __init__(self, minutes: float | None, clock: Callable[[], float] = time.perf_counter,
                 spent_s: float = 0.0, power: float = POWER, margin_s: float | None = None) -> None:
        self.minutes = None if minutes is None else positive_minutes(minutes)
        self.limit_s = None if self.minutes is None else self.minutes * 60.0
        self.clock, self.power = clock, power
        self.margin_s = (0.01 * self.limit_s if self.limit_s else 0.0) if margin_s is None else float(margin_s)
        self._origin = clock() - float(spent_s)
        self._lap = self._origin
        self.iteration_s: float | None = None  # running estimates, on this budget's clock
        self.validation_s: float | None = None
        self.checkpoint_s = 0.0
        self._validation_measured = False

    @property
    def limited(self) -> bool:
        return self.limit_s is not None

    # -- measuring -------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.clock() - self._origin

    def start_lap(self) -> None:
        """Begin timing iterations (an iteration's time includes waiting for its batch)."""
        self._lap = self.clock()

    def iteration_done(self) -> None:
        now = self.clock()
        self.iteration_s = _smooth(self.iteration_s, now - self._lap)
        self._lap = now

    @contextmanager
    def timing(self, kind: str, cases: int = 1) -> Iterator[None]:
        """Time a ``"validation"``, a ``"checkpoint"``, or a ``"probe"``: one validation case of ``cases``."""
        start = self.clock()
        yield
        seconds = self.clock() - start
        if kind == "validation":  # the slowest so far: the last validation must fit even on a busy machine
            self.validation_s = max(self.validation_s if self._validation_measured else 0.0, seconds)
            self._validation_measured = True
        elif kind == "probe" and not self._validation_measured:
            self.validation_s = seconds * cases * PROBE_SAFETY
        elif kind == "checkpoint":
            self.checkpoint_s = max(self.checkpoint_s, seconds)

    # -- deciding --------------------------------------------------------------------------------
    def reserve(self) -> float:
        """What the end needs after the last iteration: a validation, a checkpoint, the margin."""
        return (self.validation_s or 0.0) + self.checkpoint_s + self.margin_s

    def training_end(self) -> float:
        """When (seconds into the budget) the last iteration should finish."""
        return (self.limit_s or math.inf) - self.reserve()

    def learning_rate_factor(self) -> float:
        """``(1 - share of the training time spent) ** power``: 1 at the start, 0 when the budget is spent."""
        if self.limit_s is None:
            return 1.0
        share = self.elapsed() / max(self.training_end(), 1e-9)
        return max(0.0, 1.0 - share) ** self.power

    def out_of_time(self, upcoming_s: float = 0.0) -> bool:
        """True when one more iteration (after ``upcoming_s`` of other work) would not leave room for the end.

        Nothing is decided before the first iteration has been timed: a run always trains a little.
        """
        if self.limit_s is None or self.iteration_s is None:
            return False
        return self.elapsed() + upcoming_s + self.iteration_s > self.training_end()

    def epochs_allowed(self, epochs_done: int, iterations_per_epoch: int, val_interval: int) -> int | None:
        """Epochs the budget allows in all, at the measured speed (what the epoch log shows as ``~N``)."""
        if self.limit_s is None or self.iteration_s is None:
            return None
        epoch_s = self.iteration_s * max(iterations_per_epoch, 1) + (self.validation_s or 0.0) / max(val_interval, 1)
        left = max(0.0, self.training_end() - self.elapsed())
        return epochs_done + int(left // max(epoch_s, 1e-9))


def _smooth(previous: float | None, value: float) -> float:
    return value if previous is None else (1 - SMOOTHING) * previous + SMOOTHING * value


@dataclass
class BudgetReport:
    """What a time budget bought: the line the CLI prints and the run's README keeps."""

    minutes: float
    used_s: float
    epochs: int
    iterations: int
    best_dice: float | None
    best_epoch: int
    already_spent: bool = False  # nothing was trained in this call: the budget was spent before it
    kept: str = "best"  # the kept model: the best validated epoch's, or the final weights

    @classmethod
    def from_history(cls, minutes: float, used_s: float, history: Sequence[Mapping[str, float]],
                     best_epoch: int, already_spent: bool = False, kept: str = "best") -> BudgetReport:
        best = next((row for row in history if row.get("epoch") == best_epoch and "dice_mean" in row), None)
        return cls(minutes, used_s, len(history), int(sum(row.get("iterations", 0) for row in history)),
                   None if best is None else float(best["dice_mean"]), best_epoch, already_spent, kept)

    def bought(self) -> str:
        """``12 epochs (3,456 iterations); best validation Dice 0.812 at epoch 11`` (or ``final model: validation
        Dice ...``)."""
        best = ("no validation cases" if self.best_dice is None
                else f"final model: validation Dice {self.best_dice:.4f} at epoch {self.best_epoch}"
                if self.kept == "final" else f"best validation Dice {self.best_dice:.4f} at epoch {self.best_epoch}")
        epochs = f"{self.epochs} epoch{'' if self.epochs == 1 else 's'}"
        return f"{epochs} ({self.iterations:,} iteration{'' if self.iterations == 1 else 's'}); {best}"

    def line(self) -> str:
        return f"time budget {self.minutes:g} min: used {self.used_s / 60:.1f} min for {self.bought()}"

    def markdown(self) -> str:
        return (f"### Time budget\n\n`--time-limit {self.minutes:g}`: used {self.used_s / 60:.1f} min for "
                f"{self.bought()}.")
