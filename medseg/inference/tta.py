"""Test-time augmentation by flips, declared per bundle (``inference.json`` ``tta``; ``--tta`` turns it on).

The prediction is the mean of the probabilities for the image and for the image flipped along each
listed axis (flipped back). Axes are those of the preprocessed image (after reorientation; in RAS,
axis 0 is the patient's left→right line). A left-right flip turns a patient's
left structure into a right one as the network sees it, so for bundles with lateral structures the
listed channel pairs are swapped on the prediction of any flip along ``lateral_axis`` before it is
averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class FlipTTA:
    """Average of the identity and single-axis flips (``1 + len(axes)`` network passes)."""

    def __init__(self, axes: Sequence[int] = (0, 1, 2), lateral_axis: int | None = 0,
                 swap_channels: Sequence[Sequence[int]] = ()) -> None:
        self.axes = tuple(int(a) for a in axes)
        self.lateral_axis = lateral_axis
        self.swap_channels = tuple(tuple(int(c) for c in pair) for pair in swap_channels)

    def _swap(self, probabilities: torch.Tensor) -> torch.Tensor:
        order = list(range(probabilities.shape[0]))
        for a, b in self.swap_channels:
            order[a], order[b] = order[b], order[a]
        return probabilities[order]

    def __call__(self, predict: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        """``predict`` maps a (C, *spatial) image to (K, *spatial) probabilities."""
        total = predict(image).clone()
        for axis in self.axes:
            dim = axis + 1  # skip the channel dimension
            flipped = predict(torch.flip(image, dims=(dim,))).flip(dims=(dim,))
            total += self._swap(flipped) if axis == self.lateral_axis and self.swap_channels else flipped
        return total / (1 + len(self.axes))
