"""Figures for runs: loss and validation Dice curves."""

from __future__ import annotations

import csv
from pathlib import Path

from medseg.io.atomic import atomic_path


def plot_curves(metrics_csv: str | Path, output: str | Path) -> Path:
    """Plot training loss and per-channel validation Dice from ``metrics.csv`` to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with Path(metrics_csv).open() as handle:
        rows = list(csv.DictReader(handle))
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax_loss, ax_dice) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [float(r["train_loss"]) for r in rows], color="tab:blue")
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="loss")
    for key in (rows[0].keys() if rows else []):
        if key.startswith("dice_"):
            points = [(int(r["epoch"]), float(r[key])) for r in rows if r.get(key)]
            if points:
                ax_dice.plot(*zip(*points), marker="o", label=key.removeprefix("dice_"))
    ax_dice.set(title="validation Dice", xlabel="epoch", ylabel="Dice", ylim=(0, 1))
    if ax_dice.lines:
        ax_dice.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return Path(output)
