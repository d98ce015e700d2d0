"""One device abstraction: ``auto | cpu | cuda[:N]``; AMP only on CUDA."""

from __future__ import annotations

import torch

from medseg.errors import MedsegError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without a GPU is a clear error."""
    if isinstance(spec, torch.device):
        return spec
    spec = str(spec).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MedsegError(f"--device {spec}: no CUDA GPU is available on this machine (use --device cpu)")
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise MedsegError(f"--device {spec}: only {torch.cuda.device_count()} GPU(s) present")
        return device
    if spec == "cpu":
        return torch.device("cpu")
    raise MedsegError(f"--device {spec!r}: expected auto, cpu or cuda[:N]")


def use_amp(device: torch.device) -> bool:
    """Mixed precision pays on CUDA; on CPU bf16 autocast is ~100x slower here, so never."""
    return device.type == "cuda"
