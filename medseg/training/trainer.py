"""The training loop: Dice + cross-entropy, AMP on CUDA, sliding-window validation, a run directory.

The bundle's ``train.json`` builds the pieces (network, loss, optimiser, transforms) with
``_target_``; this class only runs them, so the same loop serves ``medseg train`` and
``python -m monai.bundle run``.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medseg.bundle.find import Bundle
from medseg.bundle.provenance import append_to_run_readme, write_run_readme
from medseg.bundle.runs import LAST
from medseg.errors import BundleError, TrainingStopped
from medseg.labels import LabelSchema
from medseg.outputs.report import plot_curves
from medseg.runtime import distributed
from medseg.runtime.checkpoint import save_checkpoint
from medseg.runtime.device import resolve_device, use_amp
from medseg.runtime.stop import StopRequest
from medseg.training.budget import BudgetReport, TimeBudget
from medseg.training.epoch_log import epoch_total, log_epoch, write_metrics
from medseg.training.loaders import batches, make_loaders
from medseg.training.state import (
    Progress,
    load_training_state,
    progress_of,
    read_training_state,
    save_training_state,
)

KEEP_MODEL = ("best", "final")  # which weights become models/model.pt


def _plain(tensor) -> torch.Tensor:
    """A batch tensor without metadata (items read back from the disk cache are plain tensors already)."""
    return tensor.as_tensor() if hasattr(tensor, "as_tensor") else tensor


@dataclass
class TrainResult:
    run_dir: Path
    best_metric: float
    best_epoch: int
    history: list[dict[str, float]]
    budget: BudgetReport | None = None  # what ``time_limit`` bought; None without one
    kept: str = "best"  # which weights models/model.pt holds: the best validated or the final ones


class Trainer:
    """Train one network on a manifest and write a run directory that is itself a MONAI bundle.

    ``time_limit`` (minutes) makes training a budget to spend: it then runs until the budget is
    used, not for ``epochs`` (see ``medseg.training.budget``); the learning rate decays over the share
    of the budget spent, set before every iteration, and the last epoch stops mid-way when the next
    iteration would not leave room for its validation and checkpoint. ``clock`` is the budget's
    clock (``time.perf_counter``; ``time.process_time`` budgets this process's CPU time, its threads
    but not data-loader workers); it is for the Python API and benchmarks, not a bundle setting.
    """

    def __init__(
        self,
        network: torch.nn.Module,
        loss: torch.nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        train_transforms: Callable,
        val_transforms: Callable,
        schema: LabelSchema,
        datalist: str | Path,
        run_dir: str | Path,
        bundle_root: str | Path,
        roi_size: Sequence[int],
        modalities: Sequence[str] = ("image",),
        scheduler: Callable[..., Any] | None = None,
        epochs: int = 50,
        batch_size: int = 2,
        val_interval: int = 5,
        sw_overlap: float = 0.25,
        seed: int = 0,
        device: str | torch.device = "auto",
        num_workers: int = 0,
        shuffle: bool = True,
        progress: bool = True,
        resume_from: str | Path | None = None,
        fold: int | None = None,
        cache: str = "disk",
        cache_dir: str | Path | None = None,
        validation_fraction: float = 0.2,
        time_limit: float | None = None,
        iterations_per_epoch: int | None = None,
        metric_ema: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
        keep_model: str = "best",
    ) -> None:
        if keep_model not in KEEP_MODEL:
            raise BundleError(f"keep_model must be one of {KEEP_MODEL}, not {keep_model!r}")
        self.device = distributed.setup(resolve_device(device))
        torch.backends.cudnn.benchmark = self.device.type == "cuda"
        self.network = distributed.wrap(network.to(self.device), self.device)
        self.loss = loss
        self.optimizer = optimizer(self.network.parameters())
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]  # what a time budget decays
        self.scheduler = scheduler(self.optimizer) if scheduler is not None else None
        self.train_transforms, self.val_transforms = train_transforms, val_transforms
        self.schema = schema
        self.datalist = Path(datalist)
        self.run_dir, self.bundle_root = Path(run_dir), Path(bundle_root)
        self.roi_size = tuple(int(r) for r in roi_size)
        self.modalities = list(modalities)
        self.epochs, self.batch_size, self.val_interval = int(epochs), int(batch_size), int(val_interval)
        self.sw_overlap, self.seed, self.num_workers, self.shuffle = sw_overlap, seed, num_workers, shuffle
        self.progress = progress and distributed.is_main_process()
        self.resume_from = resume_from  # a checkpoint_last.pt to continue from (``medseg train --resume``)
        self.generator: torch.Generator | None = None
        self.fold, self.cache, self.cache_dir = fold, cache, cache_dir
        self.validation_fraction = validation_fraction  # 0: train on every case, keep the last weights
        self.time_limit = time_limit  # minutes: train until the budget is spent; the learning rate decays over it
        self.clock = clock
        self.iterations_per_epoch = int(iterations_per_epoch) if iterations_per_epoch else None  # None: one pass
        self.metric_ema = float(metric_ema)  # weight of the past in the smoothed Dice that picks the best model
        self.keep_model = keep_model  # "final": the last weights are the model, validation only reports (nnU-Net's
        # checkpoint_final); "best": the best smoothed validation Dice picks them
        self.amp = use_amp(self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)

    # -- steps ------------------------------------------------------------------------------
    def _train_epoch(self, loader, epoch: int, budget: TimeBudget, total: str) -> tuple[dict[str, float], bool]:
        """One epoch of training patches; also times data waiting vs the training step.

        Under a time budget, rank 0's clock sets the learning rate before every iteration and may end
        the epoch early (after at least one iteration): then the second value is True, the run's last epoch.
        """
        from tqdm.auto import tqdm

        self.network.train()
        losses, data_s, step_s, patches, out_of_time = [], 0.0, 0.0, 0, False
        bar = tqdm(batches(loader, self.iterations_per_epoch), desc=f"epoch {epoch}/{total}", unit="batch", leave=False,
                   total=self.iterations_per_epoch or len(loader),
                   disable=None if self.progress else True)  # None: no bars in non-TTY logs
        tick = time.perf_counter()
        budget.start_lap()
        for batch in bar:
            if budget.limited and self._follow_budget(budget) and losses:
                out_of_time = True
                break
            started = time.perf_counter()
            data_s += started - tick
            image = _plain(batch["image"]).to(self.device, non_blocking=True)
            target = _plain(batch["label"]).to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, enabled=self.amp):
                loss = self.loss(self.network(image), target)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            losses.append(float(loss.detach()))  # also waits for the device, so step time is real
            patches += image.shape[0]
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            tick = time.perf_counter()
            step_s += tick - started
            budget.iteration_done()
        bar.close()
        if self.scheduler is not None and not budget.limited:
            self.scheduler.step()
        loss = distributed.mean_across_ranks(float(np.mean(losses)) if losses else float("nan"), self.device)
        return {"train_loss": loss, "data_s": round(data_s, 3), "step_s": round(step_s, 3), "patches": patches,
                "iterations": len(losses)}, out_of_time

    def _follow_budget(self, budget: TimeBudget, upcoming_s: float = 0.0) -> bool:
        """Rank 0's learning-rate factor and stop decision, applied on every rank (one clock for all)."""
        factor, stop = distributed.from_main_process([budget.learning_rate_factor(), budget.out_of_time(upcoming_s)],
                                                     self.device)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        return bool(stop)

    def _logits(self, batch) -> torch.Tensor:
        from monai.inferers import sliding_window_inference

        image = _plain(batch["image"]).to(self.device)
        return sliding_window_inference(image, self.roi_size, 1, distributed.unwrap(self.network),
                                        overlap=self.sw_overlap, mode="gaussian").float()

    def validate(self, loader) -> dict[str, float]:
        """Per-channel Dice on whole validation volumes (sliding window, Gaussian weights)."""
        from monai.metrics import DiceMetric

        self.network.eval()
        exclusive = self.schema.mode == "exclusive"
        first = self.schema.first_label
        metric = DiceMetric(include_background=not first, reduction="mean_batch", ignore_empty=False)
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=self.amp):
            for batch in loader:
                logits = self._logits(batch)
                label = _plain(batch["label"]).to(self.device)
                if exclusive:
                    pred = torch.nn.functional.one_hot(logits.argmax(1), logits.shape[1]).movedim(-1, 1)
                    if self.schema.void is not None:  # void pixels (no target channel) are not scored
                        pred = pred * (label.sum(1, keepdim=True) > 0)
                else:
                    pred = (logits > 0).float()
                metric(pred, label)
        names = self.schema.channel_names[first:]
        values = metric.aggregate().cpu().numpy().tolist()
        return {f"dice_{name}": float(v) for name, v in zip(names, values)}

    def _probe_validation(self, loader, budget: TimeBudget) -> None:
        """Time one validation case before training, so a budget can keep room for the last validation.

        A disk cache is filled first (once per case, whenever it happens), and the case is predicted
        once untimed: one-off costs (caching, the first call's set-up) would otherwise be reserved for
        every validation, multiplied by the number of cases.
        """
        from monai.data import PersistentDataset

        if isinstance(loader.dataset, PersistentDataset):
            for _ in loader:
                pass
        self.network.eval()
        case = next(iter(loader))
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=self.amp):
            self._logits(case)
            with budget.timing("probe", cases=len(loader)):
                self._logits(case)

    # -- outputs ----------------------------------------------------------------------------
    def _export_bundle_files(self) -> None:
        """Make the run directory a complete bundle (configs, docs, licence) when it is elsewhere."""
        if self.run_dir.resolve() == self.bundle_root.resolve() or not distributed.is_main_process():
            return
        Bundle(self.bundle_root).copy_to(self.run_dir)

    def _save_model(self) -> None:
        """The deployable weights (``models/model.pt``), written by rank 0 only."""
        if distributed.is_main_process():
            save_checkpoint(distributed.unwrap(self.network).state_dict(), self.run_dir / Bundle.WEIGHTS)

    def _smoothed(self, history: list[dict[str, float]], dice: float) -> float:
        """Exponential moving average of the validation Dice (nnU-Net picks its best model on one)."""
        previous = next((row["dice_ema"] for row in reversed(history) if "dice_ema" in row), None)
        return dice if previous is None else self.metric_ema * previous + (1 - self.metric_ema) * dice

    def _say(self, text: str) -> None:
        if self.progress:
            print(f"medseg: {text}", file=sys.stderr, flush=True)

    def _spent(self, before: Progress, budget: TimeBudget) -> TrainResult | None:
        """A resumed run whose budget ran out (and was not raised since) trains nothing: say so in one line."""
        if not (budget.limited and before.out_of_time and before.time_limit_min is not None
                and budget.minutes <= before.time_limit_min):
            return None
        report = BudgetReport.from_history(budget.minutes, before.spent_s, before.history, before.best_epoch,
                                           already_spent=True, kept=self.keep_model)
        self._say(f"{self.run_dir}: its {budget.minutes:g}-minute time budget is spent ({report.bought()}); "
                  f"to train longer: medseg train --resume {self.run_dir} --time-limit MIN (a larger total)")
        return TrainResult(self.run_dir, before.best_metric, before.best_epoch, before.history, report,
                           self.keep_model)

    def run(self) -> TrainResult:
        """Train to ``epochs`` or through the time budget, checkpointing every epoch; SIGINT/SIGTERM stop after a
        checkpoint.

        With ``keep_model="best"`` the model is the one with the best smoothed validation Dice (``metric_ema``;
        0: the raw Dice); with ``"final"``, or without validation cases, the last weights.
        """
        from monai.utils import set_determinism
        from tqdm.auto import tqdm

        set_determinism(seed=self.seed)
        checkpoint = read_training_state(self.resume_from) if self.resume_from else None
        before = progress_of(checkpoint) if checkpoint is not None else Progress()
        budget = TimeBudget(self.time_limit, self.clock, spent_s=before.spent_s)  # it covers caching the data too
        if (spent := self._spent(before, budget)) is not None:
            return spent
        if checkpoint is not None and budget.limited:
            self._say(f"resuming {self.run_dir}: {max(budget.limit_s - budget.elapsed(), 0) / 60:.1f} of its "
                      f"{budget.minutes:g}-minute time budget left")
        if distributed.is_main_process():
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self._export_bundle_files()
        train_loader, val_loader = make_loaders(self)
        state = load_training_state(self, self.resume_from, checkpoint) if checkpoint is not None else Progress()
        if budget.limited and len(val_loader):
            self._probe_validation(val_loader, budget)
        per_epoch = self.iterations_per_epoch or len(train_loader)
        total = epoch_total(self.epochs, budget.limited)
        epochs = tqdm(itertools.count(state.epoch + 1) if budget.limited else range(state.epoch + 1, self.epochs + 1),
                      desc="train", unit="epoch", initial=state.epoch, total=None if budget.limited else self.epochs,
                      disable=None if self.progress else True)
        with StopRequest() as stop:
            for epoch in epochs:
                if hasattr(train_loader.sampler, "set_epoch"):
                    train_loader.sampler.set_epoch(epoch)
                start = time.perf_counter()
                trained, last = self._train_epoch(train_loader, epoch, budget, total)
                row: dict[str, float] = {"epoch": epoch, **trained, "lr": float(self.optimizer.param_groups[0]["lr"])}
                due = epoch % self.val_interval == 0 or epoch == self.epochs and not budget.limited
                if budget.limited and not last:  # room for this epoch's end and one more iteration?
                    last = self._follow_budget(budget, (budget.validation_s or 0.0) * due + budget.checkpoint_s)
                if last and len(val_loader) and budget.elapsed() + (budget.validation_s or 0.0) > budget.limit_s:
                    self._say(f"the {budget.minutes:g}-minute time budget has no room left for the last validation "
                              f"(about {budget.validation_s:.0f} s here): validating anyway, so the kept model is "
                              "scored; a larger --time-limit avoids the overrun")
                if len(val_loader) and (due or last):
                    with budget.timing("validation"):
                        dice = self.validate(val_loader)
                    row.update(dice, dice_mean=float(np.mean(list(dice.values()))))
                    row["dice_ema"] = self._smoothed(state.history, row["dice_mean"])
                    final = self.keep_model == "final"  # the latest validated weights: a stopped run has a model
                    if final or row["dice_ema"] > state.best_metric:
                        state.best_metric, state.best_epoch = row["dice_mean" if final else "dice_ema"], epoch
                        self._save_model()
                row["seconds"] = round(time.perf_counter() - start, 3)
                if budget.limited:
                    row["budget_s"] = round(budget.elapsed(), 3)
                state.history.append(row)
                state.epoch, state.spent_s = epoch, budget.elapsed()
                state.time_limit_min, state.out_of_time = budget.minutes, bool(last and budget.limited)
                with budget.timing("checkpoint"):
                    save_training_state(self, state, self.run_dir / LAST)
                    if distributed.is_main_process():
                        write_metrics(self.run_dir / "metrics.csv", state.history)
                if budget.limited:
                    total = epoch_total(self.epochs, True, epoch if last else
                                        budget.epochs_allowed(epoch, per_epoch, self.val_interval))
                    epochs.total = int(total[1:]) if total[1:].isdigit() else None
                epochs.set_postfix(loss=f"{row['train_loss']:.3f}", best_dice=f"{max(state.best_metric, 0):.3f}")
                if self.progress:
                    log_epoch(row, total, not epochs.disable,
                              budget.limit_s - budget.elapsed() if budget.limited else None)
                if last:
                    break
                if stop.signal is not None and (budget.limited or epoch < self.epochs):
                    raise TrainingStopped(
                        f"stopped by {stop.name} after epoch {epoch} of {total}; checkpoint written; "
                        f"continue with: medseg train --resume {self.run_dir}", self.run_dir / LAST)
        return self._finish(state, budget)

    def _finish(self, state: Progress, budget: TimeBudget) -> TrainResult:
        """The model, curves and README once training ends; with a budget, what it bought (README too)."""
        # the last weights are the model; under "final" a validated last epoch has written them already
        if (self.keep_model == "final" or state.best_epoch == 0) and state.best_epoch != state.epoch:
            self._save_model()
            state.best_epoch = state.epoch
            final = next((row for row in state.history if row.get("epoch") == state.epoch and "dice_mean" in row), {})
            state.best_metric = float(final.get("dice_mean", -1.0))
        report = (BudgetReport.from_history(budget.minutes, budget.elapsed(), state.history, state.best_epoch,
                                            kept=self.keep_model) if budget.limited else None)
        if distributed.is_main_process():
            plot_curves(self.run_dir / "metrics.csv", self.run_dir / "curves.png")
            readme = write_run_readme(self.run_dir, self.bundle_root, state.history, state.best_epoch)  # its own Dice
            if readme is not None and report is not None:
                append_to_run_readme(self.run_dir, report.markdown())
        distributed.barrier()
        return TrainResult(self.run_dir, state.best_metric, state.best_epoch, state.history, report, self.keep_model)
