"""The training loop: Dice + cross-entropy, AMP on CUDA, sliding-window validation, a run directory.

The bundle's ``train.json`` builds the pieces (network, loss, optimiser, transforms) with
``_target_``; this class only runs them, so the same loop serves ``medseg train`` and
``python -m monai.bundle run``.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medseg.data.manifest import case_to_dict, load_manifest
from medseg.engine.checkpoint import save_checkpoint
from medseg.engine.device import resolve_device, use_amp
from medseg.io.atomic import write_text_atomic
from medseg.io.read import check_case_headers
from medseg.labels import LabelSchema

BUNDLE_FILES = ("configs/metadata.json", "configs/inference.json", "configs/train.json", "docs/README.md", "LICENSE")


@dataclass
class TrainResult:
    run_dir: Path
    best_metric: float
    best_epoch: int
    history: list[dict[str, float]]


class Trainer:
    """Train one network on a manifest and write a run directory that is itself a MONAI bundle."""

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
        progress: bool = True,
        validation_fraction: float = 0.2,
    ) -> None:
        self.device = resolve_device(device)
        self.network = network.to(self.device)
        self.loss = loss
        self.optimizer = optimizer(self.network.parameters())
        self.scheduler = scheduler(self.optimizer) if scheduler is not None else None
        self.train_transforms, self.val_transforms = train_transforms, val_transforms
        self.schema = schema
        self.datalist = Path(datalist)
        self.run_dir, self.bundle_root = Path(run_dir), Path(bundle_root)
        self.roi_size = tuple(int(r) for r in roi_size)
        self.modalities = list(modalities)
        self.epochs, self.batch_size, self.val_interval = int(epochs), int(batch_size), int(val_interval)
        self.sw_overlap, self.seed, self.num_workers = sw_overlap, seed, num_workers
        self.progress = progress
        self.validation_fraction = validation_fraction  # 0: train on every case, keep the last weights
        self.amp = use_amp(self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)

    # -- data -------------------------------------------------------------------------------
    def _loaders(self):
        from monai.data import CacheDataset, DataLoader, list_data_collate

        manifest = load_manifest(self.datalist, modalities=self.modalities)
        train_cases, val_cases = manifest.train_validation_split(self.validation_fraction, seed=self.seed)
        in_channels = next(p for p in self.network.parameters() if p.dim() > 1).shape[1]
        for case in train_cases + val_cases:
            if case.label is None:
                from medseg.errors import InputError

                raise InputError(f"case {case.case_id} has no label", manifest.path)
            check_case_headers(case, int(in_channels), len(self.roi_size))
        train_ds = CacheDataset([case_to_dict(c) for c in train_cases], self.train_transforms, progress=False)
        val_ds = CacheDataset([case_to_dict(c) for c in val_cases], self.val_transforms, progress=False)
        generator = torch.Generator().manual_seed(self.seed)
        train_loader = DataLoader(
            train_ds, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers,
            collate_fn=list_data_collate, generator=generator,
        )
        return train_loader, DataLoader(val_ds, batch_size=1, num_workers=0)

    # -- steps ------------------------------------------------------------------------------
    def _train_epoch(self, loader, epoch: int) -> float:
        from tqdm.auto import tqdm

        self.network.train()
        losses = []
        bar = tqdm(loader, desc=f"epoch {epoch}/{self.epochs}", unit="batch", leave=False, disable=not self.progress)
        for batch in bar:
            image = batch["image"].as_tensor().to(self.device, non_blocking=True)
            target = batch["label"].as_tensor().to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, enabled=self.amp):
                loss = self.loss(self.network(image), target)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if self.scheduler is not None:
            self.scheduler.step()
        return float(np.mean(losses)) if losses else float("nan")

    def validate(self, loader) -> dict[str, float]:
        """Per-channel Dice on whole validation volumes (sliding window, Gaussian weights)."""
        from monai.inferers import sliding_window_inference
        from monai.metrics import DiceMetric

        self.network.eval()
        exclusive = self.schema.mode == "exclusive"
        metric = DiceMetric(include_background=not exclusive, reduction="mean_batch", ignore_empty=False)
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=self.amp):
            for batch in loader:
                image = batch["image"].as_tensor().to(self.device)
                logits = sliding_window_inference(
                    image, self.roi_size, 1, self.network, overlap=self.sw_overlap, mode="gaussian"
                ).float()
                if exclusive:
                    pred = torch.nn.functional.one_hot(logits.argmax(1), logits.shape[1]).movedim(-1, 1)
                else:
                    pred = (logits > 0).float()
                metric(pred, batch["label"].as_tensor().to(self.device))
        names = self.schema.channel_names[1:] if exclusive else self.schema.channel_names
        values = metric.aggregate().cpu().numpy().tolist()
        return {f"dice_{name}": float(v) for name, v in zip(names, values)}

    # -- outputs ----------------------------------------------------------------------------
    def _export_bundle_files(self) -> None:
        """Make the run directory a complete bundle (configs, docs, licence) when it is elsewhere."""
        if self.run_dir.resolve() == self.bundle_root.resolve():
            return
        for name in BUNDLE_FILES:
            source = self.bundle_root / name
            if source.is_file():
                (self.run_dir / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, self.run_dir / name)

    def _write_metrics(self, history: list[dict[str, float]]) -> None:
        fields = list(dict.fromkeys(k for row in history for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)
        write_text_atomic(self.run_dir / "metrics.csv", buffer.getvalue())

    def run(self) -> TrainResult:
        from monai.utils import set_determinism
        from tqdm.auto import tqdm

        from medseg.report import plot_curves

        set_determinism(seed=self.seed)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._export_bundle_files()
        train_loader, val_loader = self._loaders()
        history: list[dict[str, float]] = []
        best, best_epoch = -1.0, 0
        epochs = tqdm(range(1, self.epochs + 1), desc="train", unit="epoch", disable=not self.progress)
        for epoch in epochs:
            start = time.perf_counter()
            row: dict[str, float] = {"epoch": epoch, "train_loss": self._train_epoch(train_loader, epoch)}
            if len(val_loader) and (epoch % self.val_interval == 0 or epoch == self.epochs):
                dice = self.validate(val_loader)
                row.update(dice, dice_mean=float(np.mean(list(dice.values()))))
                if row["dice_mean"] > best:
                    best, best_epoch = row["dice_mean"], epoch
                    save_checkpoint(self.network.state_dict(), self.run_dir / "models" / "model.pt")
            row["seconds"] = round(time.perf_counter() - start, 3)
            history.append(row)
            self._write_metrics(history)
            epochs.set_postfix(loss=f"{row['train_loss']:.3f}", best_dice=f"{max(best, 0):.3f}")
            save_checkpoint(
                {"model": self.network.state_dict(), "optimizer": self.optimizer.state_dict(), "epoch": epoch},
                self.run_dir / "models" / "checkpoint_last.pt",
            )
        if best_epoch == 0:  # no validation set: keep the last weights as the model
            save_checkpoint(self.network.state_dict(), self.run_dir / "models" / "model.pt")
            best_epoch = self.epochs
        plot_curves(self.run_dir / "metrics.csv", self.run_dir / "curves.png")
        return TrainResult(self.run_dir, best, best_epoch, history)
