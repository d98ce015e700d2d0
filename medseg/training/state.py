"""Everything a killed or stopped run needs to continue exactly: ``models/checkpoint_last.pt``.

The checkpoint holds the model, optimiser, scheduler and AMP scaler states, the epoch, the best
metric, the metrics history, the time budget spent so far, and every random state the loop draws
from (Python, NumPy, torch, CUDA, the shuffling generator and each random transform's own
generator). It is written atomically at the end of every epoch and holds only tensors and plain
containers, so it loads with ``torch.load(weights_only=True)``. A run killed mid-epoch loses that
epoch only; resumed, it replays it with the same random draws an uninterrupted run would have made.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medseg.errors import CheckpointError
from medseg.runtime import distributed
from medseg.runtime.checkpoint import load_checkpoint, save_checkpoint

FORMAT = 2  # 1: model, optimizer, epoch only (medseg 0.1 slice); 2: everything to resume


@dataclass
class Progress:
    """Where a run stands after its last completed epoch."""

    epoch: int = 0
    best_metric: float = -1.0
    best_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    spent_s: float = 0.0  # of the run's time budget (``--time-limit``), on the budget's clock
    time_limit_min: float | None = None  # the budget the run last trained under
    out_of_time: bool = False  # it stopped because that budget was spent


# -- random states -----------------------------------------------------------------------------
def transform_generators(obj: Any) -> list[np.random.RandomState]:
    """Every ``RandomState`` a MONAI transform chain owns, in a fixed order.

    Walks attributes the way MONAI's ``set_rnd`` seeds them, so the list covers what seeding covers.
    """
    found: list[np.random.RandomState] = []
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, np.random.RandomState):
            found.append(node)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif hasattr(node, "__dict__") and not isinstance(node, type | torch.Tensor | np.ndarray):
            for key, item in vars(node).items():
                if not key.startswith("__"):
                    walk(item)

    walk(obj)
    return found


def _numpy_state(state: tuple) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached": float(cached)}


def _numpy_tuple(state: dict[str, Any]) -> tuple:
    keys = state["keys"].numpy().astype(np.uint32)
    return state["name"], keys, state["pos"], state["has_gauss"], state["cached"]


def capture_rng(generator: torch.Generator | None, transforms: Any) -> dict[str, Any]:
    """All random states the training loop draws from, as plain containers and tensors."""
    return {
        "python": random.getstate(),
        "numpy": _numpy_state(np.random.get_state()),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": generator.get_state() if generator is not None else None,
        "transforms": [_numpy_state(g.get_state()) for g in transform_generators(transforms)],
    }


def restore_rng(state: dict[str, Any], generator: torch.Generator | None, transforms: Any) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(_numpy_tuple(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and state["loader"] is not None:
        generator.set_state(state["loader"])
    generators = transform_generators(transforms)
    if len(generators) != len(state["transforms"]):
        raise CheckpointError("the training transforms changed since this checkpoint was written")
    for target, saved in zip(generators, state["transforms"]):
        target.set_state(_numpy_tuple(saved))


# -- the checkpoint ----------------------------------------------------------------------------
def save_training_state(trainer: Any, progress: Progress, path: str | Path) -> Path:
    """Write ``checkpoint_last.pt`` atomically (never a half file, whatever kills the process).

    Under DDP only rank 0 writes, and the weights are saved without the DDP wrapper's prefix.
    """
    if not distributed.is_main_process():
        return Path(path)
    state = {
        "format": FORMAT,
        "model": distributed.unwrap(trainer.network).state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": trainer.scaler.state_dict(),
        "epoch": progress.epoch,
        "best_metric": progress.best_metric,
        "best_epoch": progress.best_epoch,
        "history": progress.history,
        "budget": {"spent_s": float(progress.spent_s), "time_limit_min": progress.time_limit_min,
                   "out_of_time": bool(progress.out_of_time)},
        "rng": capture_rng(trainer.generator, trainer.train_transforms),
    }
    return save_checkpoint(state, path)


def read_training_state(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, refused when it is not a resumable medseg checkpoint."""
    state = load_checkpoint(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError("not a resumable medseg checkpoint (written by an older medseg?)", path)
    return state


def progress_of(state: dict[str, Any]) -> Progress:
    """Where a checkpoint's run stands (checkpoints from before time budgets: the epochs' seconds as spent)."""
    history = list(state["history"])
    budget = state.get("budget") or {"spent_s": sum(row.get("seconds", 0.0) for row in history)}
    limit = budget.get("time_limit_min")
    return Progress(int(state["epoch"]), float(state["best_metric"]), int(state["best_epoch"]), history,
                    float(budget["spent_s"]), None if limit is None else float(limit),
                    bool(budget.get("out_of_time", False)))


def load_training_state(trainer: Any, path: str | Path, state: dict[str, Any] | None = None) -> Progress:
    """Put a trainer back where ``path`` (or its already read ``state``) left it; return the progress."""
    state = read_training_state(path) if state is None else state
    try:
        distributed.unwrap(trainer.network).load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        if trainer.scheduler is not None and state["scheduler"] is not None:
            trainer.scheduler.load_state_dict(state["scheduler"])
        trainer.scaler.load_state_dict(state["scaler"])
        restore_rng(state["rng"], trainer.generator, trainer.train_transforms)
    except (RuntimeError, ValueError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint does not fit this run ({reason})", path) from exc
    return progress_of(state)
