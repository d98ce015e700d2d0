"""Loss chosen from the label schema.

MONAI 1.6's ``DiceCELoss`` applies a softmax cross-entropy whenever there is more than one output
channel, even with ``sigmoid=True``; for overlapping channels that makes structures compete. So
overlapping schemas get soft Dice on sigmoids plus ``BCEWithLogitsLoss`` (each channel on its own),
and exclusive schemas get MONAI's ``DiceCELoss`` with softmax.
"""

from __future__ import annotations

import torch
from torch import nn

from medseg.labels import LabelSchema


class DiceBCELoss(nn.Module):
    """Soft Dice over sigmoid channels plus per-channel binary cross-entropy, both on logits."""

    def __init__(self, lambda_dice: float = 1.0, lambda_bce: float = 1.0) -> None:
        super().__init__()
        from monai.losses import DiceLoss

        self.dice = DiceLoss(sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5)
        self.bce = nn.BCEWithLogitsLoss()
        self.lambda_dice = lambda_dice
        self.lambda_bce = lambda_bce

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.lambda_dice * self.dice(logits, target) + self.lambda_bce * self.bce(logits, target)


def build_loss(schema: LabelSchema) -> nn.Module:
    """Dice + cross-entropy in the form that matches the schema's mode (targets are one channel per output)."""
    if schema.mode == "overlapping":
        return DiceBCELoss()
    from monai.losses import DiceCELoss

    return DiceCELoss(softmax=True, smooth_nr=1e-5, smooth_dr=1e-5)
