"""Loss chosen from the label schema.

MONAI 1.6's ``DiceCELoss`` applies a softmax cross-entropy whenever there is more than one output
channel, even with ``sigmoid=True``; for overlapping channels that makes structures compete. So
overlapping schemas get soft Dice on sigmoids plus ``BCEWithLogitsLoss`` (each channel on its own),
and exclusive schemas get MONAI's ``DiceCELoss`` with softmax. A schema with a void value (or without a
background channel) gets ``MaskedDiceCELoss``: the same two terms over annotated pixels only. MONAI 1.6's
``DiceCELoss`` supports no ``ignore_index`` (its docstring says so), so the Dice term is MONAI's
``MaskedDiceLoss`` (softmax first, then the mask) and the cross-entropy PyTorch's with ``ignore_index``.

Deep supervision: MONAI's ``DynUNet`` returns, in training mode, its output and the upsampled
outputs of coarser decoder levels stacked on dimension 1; ``DeepSupervised`` unstacks them for MONAI's
``DeepSupervisionLoss`` (weights 1, 1/2, 1/4, ...). A plain output passes straight to the loss, so
the same loss serves networks with and without deep supervision.
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


class MaskedDiceCELoss(nn.Module):
    """Softmax Dice + cross-entropy over annotated pixels: a pixel whose target channels are all zero (the
    void value, or padding where no class is known) takes part in neither term, and is never a class."""

    def __init__(self, lambda_dice: float = 1.0, lambda_ce: float = 1.0) -> None:
        super().__init__()
        from monai.losses import MaskedDiceLoss

        self.dice = MaskedDiceLoss(softmax=True, smooth_nr=1e-5, smooth_dr=1e-5)
        self.lambda_dice = lambda_dice
        self.lambda_ce = lambda_ce

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        known = target.sum(1, keepdim=True) > 0
        dice = self.dice(logits.float(), target, mask=known.float())
        index = torch.where(known[:, 0], target.argmax(1), -100)
        if not known.any():  # a patch of void only: nothing to learn, but keep the graph
            return self.lambda_dice * dice + 0.0 * logits.sum()
        ce = nn.functional.cross_entropy(logits.float(), index, ignore_index=-100)
        return self.lambda_dice * dice + self.lambda_ce * ce


class DeepSupervised(nn.Module):
    """Apply a loss to every deep-supervision output (MONAI ``DeepSupervisionLoss``) or to a plain output."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        from monai.losses import DeepSupervisionLoss

        self.loss = loss
        self.supervised = DeepSupervisionLoss(loss, weight_mode="exp")

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.dim() == target.dim() + 1:  # (B, 1 + heads, C, *spatial): DynUNet's training output
            return self.supervised(list(torch.unbind(output, dim=1)), target)
        return self.loss(output, target)


def build_loss(schema: LabelSchema, deep_supervision: bool = False) -> nn.Module:
    """Dice + cross-entropy in the form that matches the schema's mode (targets are one channel per output)."""
    if schema.mode == "overlapping":
        loss: nn.Module = DiceBCELoss()
    elif schema.void is not None or not schema.background:
        loss = MaskedDiceCELoss()
    else:
        from monai.losses import DiceCELoss

        loss = DiceCELoss(softmax=True, smooth_nr=1e-5, smooth_dr=1e-5)
    return DeepSupervised(loss) if deep_supervision else loss
