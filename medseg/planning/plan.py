"""A plan: the configuration the rules chose for one dataset on one device, and how it enters a bundle.

``make_plan`` runs the rules; ``Plan.overrides`` turns the plan into bundle config keys (the same
keys ``--override`` sets), so a run's configs hold the plan and ``python -m monai.bundle run``
reproduces the run. Keys a bundle does not define are left out, so one plan serves any bundle whose
configs follow brain_tumor's (``network_def`` a ``DynUNet``, ``spacing``, ``patch_size`` ...).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from medseg.planning.fingerprint import Fingerprint
from medseg.planning.memory import estimate_memory_gb
from medseg.planning.rules import Budget, batch_size_for, fit_spacing

LEARNING_RATE = 0.01
MOMENTUM = 0.99
WEIGHT_DECAY = 3e-5
POLY_EXPONENT = 0.9
# nnU-Net's SGD (lr 0.01, Nesterov momentum 0.99) is tuned for its 250 000-iteration schedule; a short one
# (under LONG_SCHEDULE_ITERATIONS) uses AdamW, which converges in the few hundred to few thousand iterations
# a CPU budget buys. Screened on the real brain_tumor cases (benchmarks/brain_tumor_cv.py, 10 CPU-min, folds
# 0-1, RESULTS.md), AdamW 3e-3 against SGD 0.01: WT FLAIR 0.834 -> 0.867, FLAIR+T1ce 0.806 -> 0.857, T1ce
# 0.506 -> 0.637, TC 0.605 -> 0.619, ET 0.743 -> 0.760; AdamW 1e-3 fell between (FLAIR 0.844).
SHORT_SCHEDULE_LEARNING_RATE = 3e-3
EMA_PER_EPOCH = 0.9  # nnU-Net smooths its validation Dice by 0.9 per epoch; we validate every val_interval
# Planned runs are for real studies, which miss sequences: half the patches are shown as a supported
# proper subset of the sequences the case has (bundles that declare ``modality_dropout``). Cross-validated
# on the real cases (benchmarks/brain_tumor_cv.py, 10 CPU-min, folds 0-1, RESULTS.md): p 0.5 among the
# present sequences lifted T1ce-only WT 0.318 -> 0.448 and FLAIR+T1 0.662 -> 0.767 at FLAIR-only 0.815
# (p 0.3 among all). The quick demo recipe keeps it off: 60 epochs on complete phantoms lose the necrotic
# core with it (demo Dice 0.35 vs 0.66, bundles/brain_tumor/docs).
MODALITY_DROPOUT = 0.5
MODALITY_DROPOUT_AMONG = "present"
# Share of patches centred on tumour, decided on a validation fold, not on test cases (RESULTS.md, "brain_tumor
# recipe, cross-validated"): 0.5 against nnU-Net's 1/3 lifted the weakest subsets and the cores (T1ce-only WT
# 0.420 -> 0.490, FLAIR+T1 0.723 -> 0.790, TC 0.443 -> 0.485, ET 0.409 -> 0.436) at a cost on FLAIR alone and
# FLAIR+T1ce (0.823 -> 0.793, 0.799 -> 0.770): a trade, measured on one fold of two cases.
FOREGROUND_SHARE = 0.5
# nnU-Net's heavy augmentation (rotation, scaling, elastic, gamma, ...) pays over its 250 000-iteration
# schedule; a CPU budget of tens of minutes buys a few thousand, where light flips and intensity shifts
# converged better on every FLAIR subset (fold 0, 10 CPU-min: FLAIR+T1 WT 0.465 -> 0.725, RESULTS.md).
# Below this many iterations a plan uses ``light``; the threshold is a tenth of nnU-Net's schedule.
LONG_SCHEDULE_ITERATIONS = 25_000
# The planned schedule decays the learning rate to zero at its end (poly, over the epochs or the time budget),
# so its final weights are the converged ones, and nnU-Net predicts with them (checkpoint_final). Picking the
# best validation Dice on the one case a small dataset can spare is noise: in a 30 CPU-min run it kept epoch 5
# of 22 (RESULTS.md); on the 30 CPU-min cross-validation folds the final epoch was the best one anyway.
KEEP_MODEL = "final"
# A sequence that few training cases have is left out at inference (``ignore_modalities``: read, then blanked
# as a missing one), since the network hardly learnt it. On the 30 CPU-min cross-validation folds 0-1 T1 and T2
# were in 1 of the 6 training cases, and adding them lowered whole-tumour Dice on both four-sequence cases, each
# time: all four 0.813 -> 0.679 and 0.889 -> 0.867 against FLAIR+T1ce, FLAIR+T1 0.792 -> 0.732 and 0.902 -> 0.894
# against FLAIR (RESULTS.md). Measured at a share of 1/6 only; the 1/4 threshold leaves a margin above it.
MIN_SEQUENCE_SHARE = 0.25


def rare_sequences(sequence_share: dict[str, float]) -> list[str]:
    """The sequences under ``MIN_SEQUENCE_SHARE`` of the training cases: not used at inference."""
    return [name for name, share in sequence_share.items() if share < MIN_SEQUENCE_SHARE]


def augmentation_for(iterations: int) -> str:
    """The augmentation profile a schedule of ``iterations`` can use: ``nnunet`` for long ones, else ``light``."""
    return "nnunet" if iterations >= LONG_SCHEDULE_ITERATIONS else "light"


def optimizer_for(iterations: int) -> dict[str, Any]:
    """nnU-Net's SGD for a schedule of ``iterations`` at least ``LONG_SCHEDULE_ITERATIONS``, else AdamW."""
    if iterations >= LONG_SCHEDULE_ITERATIONS:
        return {"name": "SGD", "lr": LEARNING_RATE, "momentum": MOMENTUM, "nesterov": True,
                "weight_decay": WEIGHT_DECAY, "poly_exponent": POLY_EXPONENT}
    return {"name": "AdamW", "lr": SHORT_SCHEDULE_LEARNING_RATE, "weight_decay": WEIGHT_DECAY,
            "poly_exponent": POLY_EXPONENT}


@dataclass
class Plan:
    """Everything the rules decided, with the figures they decided on."""

    device: str
    spacing: list[float]
    median_shape: list[int]  # foreground box at the target spacing
    patch_size: list[int]
    batch_size: int
    network: dict[str, Any]
    epochs: int
    iterations_per_epoch: int
    val_interval: int
    time_limit_min: float | None
    amp: bool
    memory_estimate_gb: float
    memory_budget_gb: float
    seconds_per_iteration_estimate: float
    patch_coverage: float
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "optimizer": self.optimizer, "augmentation": self.augmentation,
                "ignore_modalities": self.ignore_modalities}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @property
    def estimated_epochs(self) -> int:
        """Epochs that fit the time limit at the estimated speed; a budgeted run trains until its budget is
        spent, not for ``epochs``, and measures its own speed as it goes."""
        if not self.time_limit_min:
            return self.epochs
        epoch_s = self.iterations_per_epoch * self.seconds_per_iteration_estimate
        return max(1, int(self.time_limit_min * 60 / max(epoch_s, 1e-6)))

    @property
    def estimated_iterations(self) -> int:
        """Training iterations the schedule (or the time limit at the estimated speed) allows."""
        return self.estimated_epochs * self.iterations_per_epoch

    @property
    def optimizer(self) -> dict[str, Any]:
        """The optimiser the iterations this plan buys can use (``optimizer_for``)."""
        return optimizer_for(self.estimated_iterations)

    @property
    def ignore_modalities(self) -> list[str]:
        """Sequences too rare among the training cases to use (``rare_sequences``; none when not counted)."""
        return rare_sequences(self.fingerprint.get("sequence_share", {}))

    @property
    def augmentation(self) -> str:
        """The augmentation profile the iterations this plan buys can use (``augmentation_for``)."""
        return augmentation_for(self.estimated_iterations)

    def network_def(self, in_channels: int, out_channels: int) -> dict[str, Any]:
        """The MONAI ``DynUNet`` config this plan describes."""
        net = self.network
        return {"_target_": "monai.networks.nets.DynUNet", "spatial_dims": len(self.spacing),
                "in_channels": in_channels, "out_channels": out_channels, "kernel_size": net["kernel_size"],
                "strides": net["strides"], "upsample_kernel_size": net["strides"][1:], "filters": net["filters"],
                "norm_name": "instance", "deep_supervision": net["deep_supervision"],
                "deep_supr_num": net["deep_supr_num"], "res_block": False}

    def overrides(self, in_channels: int, out_channels: int) -> dict[str, Any]:
        """Bundle config keys (inference.json and train.json) that carry this plan."""
        optimizer = self.optimizer
        return {
            "spacing": self.spacing,
            "roi_size": self.patch_size,
            "network_def": self.network_def(in_channels, out_channels),
            "patch_size": self.patch_size,
            "batch_size": self.batch_size,
            "samples_per_case": 1,
            "epochs": self.epochs,
            "iterations_per_epoch": self.iterations_per_epoch,
            "val_interval": self.val_interval,
            "learning_rate": optimizer["lr"],
            "optimizer": {"_target_": f"torch.optim.{optimizer['name']}", "_mode_": "callable",
                          "lr": "@learning_rate", **{k: v for k, v in optimizer.items()
                                                     if k not in ("name", "lr", "poly_exponent")}},
            "scheduler": {"_target_": "torch.optim.lr_scheduler.PolynomialLR", "_mode_": "callable",
                          "total_iters": "@epochs", "power": optimizer["poly_exponent"]},
            "metric_ema": round(EMA_PER_EPOCH**self.val_interval, 4),
            "keep_model": KEEP_MODEL,
            "augmentation": self.augmentation,
            "modality_dropout#prob": MODALITY_DROPOUT,
            "modality_dropout#among": MODALITY_DROPOUT_AMONG,
            "foreground_share": round(FOREGROUND_SHARE, 4),
            "ignore_modalities": self.ignore_modalities,
            "time_limit_min": self.time_limit_min,
            "plan": self.to_dict(),
        }

    def table(self) -> str:
        """The plan as a two-column table for people."""
        net = self.network
        rows = [
            ("device", f"{self.device}" + (" (AMP)" if self.amp else " (fp32)")),
            ("median spacing (mm)", _fmt(self.fingerprint.get("median_spacing", []))),
            ("target spacing (mm)", _fmt(self.spacing)),
            ("median foreground shape", " x ".join(str(s) for s in self.median_shape)),
            ("patch size", " x ".join(str(s) for s in self.patch_size)
             + f"  ({self.patch_coverage:.0%} of the median foreground)"),
            ("batch size", str(self.batch_size)),
            ("network", f"DynUNet, {len(net['filters'])} levels, filters {net['filters'][0]}-{net['filters'][-1]}"),
            ("kernels", " ".join("x".join(map(str, k)) for k in net["kernel_size"])),
            ("strides", " ".join("x".join(map(str, s)) for s in net["strides"])),
            ("deep supervision", f"{net['deep_supr_num']} extra outputs" if net["deep_supervision"] else "off"),
            ("optimiser", _describe_optimizer(self.optimizer)),
            ("schedule", ("epochs of " if self.time_limit_min else f"{self.epochs} epochs x ")
             + f"{self.iterations_per_epoch} iterations" + (" until the time limit" if self.time_limit_min else "")
             + f", validate every {self.val_interval}, keep the {KEEP_MODEL} weights"),
            ("time limit", f"{self.time_limit_min:g} min (about {self.estimated_epochs} epochs; measured as it trains)"
             if self.time_limit_min else "none"),
            ("augmentation", f"{self.augmentation} (about {self.estimated_iterations} iterations; nnunet from "
                             f"{LONG_SCHEDULE_ITERATIONS})"),
            ("sequences left out", ", ".join(
                f"{m} (in {self.fingerprint.get('sequence_share', {}).get(m, 0):.0%} of the cases)"
                for m in self.ignore_modalities) + f"; under {MIN_SEQUENCE_SHARE:.0%} is not used"
             if self.ignore_modalities else "none"),
            ("memory / iteration", f"{self.memory_estimate_gb:.2f} GB estimated of {self.memory_budget_gb:.1f} GB"),
            ("time / iteration", f"{self.seconds_per_iteration_estimate:.2f} s estimated"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _describe_optimizer(optimizer: dict[str, Any]) -> str:
    momentum = f" Nesterov momentum {optimizer['momentum']}" if "momentum" in optimizer else ""
    return (f"{optimizer['name']}{momentum} lr {optimizer['lr']:g}, poly decay {optimizer['poly_exponent']} "
            f"(SGD from {LONG_SCHEDULE_ITERATIONS} iterations)")


def _fmt(values) -> str:
    return " x ".join(f"{float(v):.3g}" for v in values)


def make_plan(fingerprint: Fingerprint, budget: Budget, in_channels: int, out_channels: int,
              time_limit_min: float | None = None) -> Plan:
    """Apply the rules (``medseg.planning.rules``) to a fingerprint for one device budget."""
    fit = fit_spacing(fingerprint, budget, in_channels, out_channels)
    batch = batch_size_for(fit, budget, fingerprint)
    deep_supr_num = max(fit.topology.levels - 2, 0)
    memory = estimate_memory_gb(fit.topology, fit.patch_size, fit.filters, batch, in_channels, out_channels,
                                budget.amp, deep_supr_num)
    seconds = fit.flops / 2 * batch / budget.flops_per_second
    network = {"kernel_size": [list(k) for k in fit.topology.kernel_size],
               "strides": [list(s) for s in fit.topology.strides], "filters": list(fit.filters),
               "deep_supervision": deep_supr_num > 0, "deep_supr_num": deep_supr_num}
    summary = {"cases": len(fingerprint.spacings), "median_spacing": [float(s) for s in fingerprint.median_spacing],
               "median_shape": [int(s) for s in fingerprint.median_shape], "intensity": fingerprint.intensity,
               "class_frequency": fingerprint.class_frequency, "modalities": fingerprint.modalities,
               "sequence_share": fingerprint.sequence_share}
    return Plan(
        device=budget.device, spacing=[round(float(s), 4) for s in fit.spacing],
        median_shape=[int(round(s)) for s in fingerprint.median_shape_at(fit.spacing)],
        patch_size=[int(s) for s in fit.patch_size], batch_size=batch, network=network, epochs=budget.epochs,
        iterations_per_epoch=budget.iterations_per_epoch, val_interval=budget.val_interval,
        time_limit_min=time_limit_min, amp=budget.amp, memory_estimate_gb=round(memory, 3),
        memory_budget_gb=round(budget.memory_gb, 3), seconds_per_iteration_estimate=round(seconds, 3),
        patch_coverage=round(float(min(fit.coverage, 1.0)), 3), fingerprint=summary,
    )
