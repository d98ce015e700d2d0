"""A budgeted trainer on the tiny brain_tumor recipe whose clock counts work instead of reading the wall.

Time passes only when the loss is computed (``per_iteration`` seconds) or a validation case is
predicted (``per_case`` seconds), so where a run stops is the same on a busy machine as on an idle
one. ``python -m tests.e2e.budget_worker RUN DATA MINUTES`` under torchrun gives rank 1 a clock ten
times as fast as rank 0's, as if its copy drifted, and writes what each rank did to ``RUN/rank<N>.json``
and ``RUN/rank<N>.pt``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from medseg.bundle.find import Bundle, find_bundle
from medseg.bundle.runs import LAST, create_run_bundle
from medseg.runtime import distributed
from tests.conftest import TINY


class WorkClock:
    """A clock that moves by ``per_iteration`` per loss evaluation and ``per_case`` per validation case."""

    def __init__(self, per_iteration: float = 1.0, per_case: float = 1.0) -> None:
        self.now, self.per_iteration, self.per_case = 0.0, per_iteration, per_case

    def __call__(self) -> float:
        return self.now


def budgeted_trainer(run: Path, data: Path, minutes: float, clock: WorkClock, overrides: dict[str, Any] | None = None,
                     resume: bool = False):
    """The run's trainer, built from its configs as ``medseg train`` builds it, on ``clock``."""
    from monai.utils import set_determinism

    distributed.setup(torch.device("cpu"))
    if distributed.is_main_process() and not resume:
        create_run_bundle(find_bundle("brain_tumor"), run, {**TINY, "datalist": str(data), **(overrides or {})},
                          time_limit=minutes)
    distributed.barrier()
    parser = Bundle(run.resolve()).parser("inference", "train")
    parser["device"] = "cpu"
    set_determinism(seed=0)
    trainer = parser.get_parsed_content("trainer")
    trainer.progress, trainer.clock = False, clock
    trainer.resume_from = run / LAST if resume else None
    loss, logits = trainer.loss, trainer._logits

    def timed_loss(output, target):
        clock.now += clock.per_iteration
        return loss(output, target)

    def timed_logits(batch):
        clock.now += clock.per_case
        return logits(batch)

    trainer.loss, trainer._logits = timed_loss, timed_logits
    return trainer


def main(run: Path, data: Path, minutes: float) -> None:
    rank = distributed.rank()
    clock = WorkClock(per_iteration=1.0 if rank == 0 else 10.0)  # rank 1's copy of the clock runs ahead
    trainer = budgeted_trainer(run, data, minutes, clock, {"iterations_per_epoch": 100})
    result = trainer.run()
    torch.save(distributed.unwrap(trainer.network).state_dict(), run / f"rank{rank}.pt")
    (run / f"rank{rank}.json").write_text(json.dumps({
        "iterations": [row["iterations"] for row in result.history],
        "lr": [group["lr"] for group in trainer.optimizer.param_groups],
    }))
    distributed.cleanup()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
