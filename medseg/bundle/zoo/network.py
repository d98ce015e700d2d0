"""A zoo network behind medseg's channel orders."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class ChannelMapped(torch.nn.Module):
    """Feed each zoo input channel the medseg modality it expects; return outputs in medseg's channel order.

    ``input_order[j]``: the medseg input channel that zoo channel ``j`` reads (brats_mri_segmentation:
    zoo T1c, T1, T2, FLAIR from medseg t1, t1ce, t2, flair → ``[1, 0, 2, 3]``).
    ``output_order[i]``: the zoo output channel that is medseg channel ``i`` (medseg WT, TC, ET from
    zoo TC, WT, ET → ``[1, 0, 2]``). Only indexing, so TorchScript and ONNX export it as is.
    """

    def __init__(self, network: torch.nn.Module, input_order: Sequence[int], output_order: Sequence[int]) -> None:
        super().__init__()
        self.network = network
        self.input_order = [int(i) for i in input_order]
        self.output_order = [int(i) for i in output_order]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x[:, self.input_order])[:, self.output_order]
