"""The record of each training epoch: ``metrics.csv``, and one line per epoch for logs (off a terminal the
progress bars are off, and cluster logs need a trace)."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from medseg.io.atomic import write_text_atomic


def write_metrics(path: Path, history: Sequence[Mapping[str, float]]) -> Path:
    """``metrics.csv``: one row per epoch, every column any epoch has (validation ones only where it validated)."""
    fields = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(history)
    return write_text_atomic(path, buffer.getvalue())


def epoch_total(epochs: int, budgeted: bool, allowed: int | None = None) -> str:
    """``60``, or under a time budget ``~41``: the epochs it allows at the measured speed (``~?`` before any)."""
    if not budgeted:
        return str(epochs)
    return "~?" if allowed is None else f"~{allowed}"


def epoch_line(row: Mapping[str, float], total: int | str, budget_left_s: float | None = None) -> str:
    """``epoch 3/60: loss 0.4123, validation Dice 0.7810, 12.3 s`` (Dice only on epochs that validated).

    Under a time budget the total is the budget's estimate and the line ends with what is left:
    ``epoch 3/~41: loss 0.4123, 12.3 s, 17.2 min left``.
    """
    parts = [f"loss {row['train_loss']:.4f}"]
    if "dice_mean" in row:
        parts.append(f"validation Dice {row['dice_mean']:.4f}")
    parts.append(f"{row['seconds']:.1f} s")
    if budget_left_s is not None:
        parts.append(f"{max(budget_left_s, 0.0) / 60:.1f} min left")
    return f"epoch {int(row['epoch'])}/{total}: " + ", ".join(parts)


def log_epoch(row: Mapping[str, float], total: int | str, bar_shown: bool, budget_left_s: float | None = None) -> None:
    """Print the epoch's line on stderr when no progress bar shows it (stderr is not a terminal)."""
    if not bar_shown:
        print(epoch_line(row, total, budget_left_s), file=sys.stderr, flush=True)
