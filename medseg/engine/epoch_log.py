"""One line per training epoch for logs: off a terminal the progress bars are off, and cluster logs need a trace."""

from __future__ import annotations

import sys
from collections.abc import Mapping


def epoch_line(row: Mapping[str, float], total: int) -> str:
    """``epoch 3/60: loss 0.4123, validation Dice 0.7810, 12.3 s`` (Dice only on epochs that validated)."""
    parts = [f"loss {row['train_loss']:.4f}"]
    if "dice_mean" in row:
        parts.append(f"validation Dice {row['dice_mean']:.4f}")
    parts.append(f"{row['seconds']:.1f} s")
    return f"epoch {int(row['epoch'])}/{total}: " + ", ".join(parts)


def log_epoch(row: Mapping[str, float], total: int, bar_shown: bool) -> None:
    """Print the epoch's line on stderr when no progress bar shows it (stderr is not a terminal)."""
    if not bar_shown:
        print(epoch_line(row, total), file=sys.stderr, flush=True)
