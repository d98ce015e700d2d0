"""Safe checkpoint I/O: ``weights_only=True`` loads, atomic saves."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from medseg.bundle.find import Bundle
from medseg.errors import CheckpointError
from medseg.io.atomic import atomic_path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load tensors and plain containers only; a pickle payload is refused, never executed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found (train first, or pass a trained run directory)", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's own message explains how to bypass the check: not shown
        raise CheckpointError("refusing to load checkpoint: it holds pickled Python objects, which could run "
                              "code (medseg loads tensors and plain containers only)", path) from exc
    except Exception as exc:  # RuntimeError (corrupt zip), EOFError, ...
        reason = str(exc).strip().split(". ")[0].splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"refusing to load checkpoint: not a readable PyTorch file ({reason})", path) from exc


def load_weights(network: torch.nn.Module, path: str | Path, prefix: str = "",
                 refusal: str = "checkpoint does not fit this bundle's network", hint: str = "") -> None:
    """Load a state dict into ``network`` (strict); a shape/key mismatch names the checkpoint and the first
    difference. ``prefix``/``refusal``/``hint`` word the one-line error for the caller's context."""
    state = load_checkpoint(path)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{prefix}checkpoint does not hold a state dict", path)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{prefix}{refusal} ({_mismatch(network, state)}){hint}", path) from exc


def init_weights(network: torch.nn.Module, bundle_root: str | Path) -> Path:
    """Start training from another bundle's weights (``medseg train --init-from DIR``), the same network only.

    A different architecture is refused in one line rather than loaded partly: a half-loaded
    network would train from a mix of pretrained and random weights without saying so.
    """
    path = Path(bundle_root) / Bundle.WEIGHTS
    load_weights(network, path, prefix="--init-from: ",
                 refusal="these weights are for another network than the one this bundle trains",
                 hint=f"; train the same network, e.g. --override network_def=... as in "
                      f"{Path(bundle_root) / 'configs' / 'inference.json'}")
    return path


def network_in_channels(network: torch.nn.Module) -> int:
    """Input channels a network takes: the second axis of its first weight that is a matrix or kernel."""
    first = next(p for p in network.parameters() if p.dim() > 1)
    return int(first.shape[1])


def _mismatch(network: torch.nn.Module, state: dict[str, Any]) -> str:
    """The first difference between a network's parameters and a state dict, in a few words."""
    expected = network.state_dict()
    for key, value in expected.items():
        if key in state and hasattr(state[key], "shape") and tuple(state[key].shape) != tuple(value.shape):
            return f"{key}: {tuple(state[key].shape)} in the checkpoint, {tuple(value.shape)} in the network"
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    parts = [f"{len(missing)} missing key(s), e.g. {missing[0]}"] if missing else []
    parts += [f"{len(unexpected)} unexpected key(s), e.g. {unexpected[0]}"] if unexpected else []
    return "; ".join(parts) or "incompatible values"


def save_checkpoint(obj: Any, path: str | Path) -> Path:
    """Save atomically so a killed job never leaves a truncated checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
