"""Planning for a bundle: its channels from its configs, a budget from the device, its keys for the plan."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from medseg.bundle.find import Bundle
from medseg.data.check import check_manifest, problems_error
from medseg.data.manifest import load_manifest
from medseg.errors import InputError
from medseg.modalities import ModalitySubsets
from medseg.planning.fingerprint import fingerprint_manifest
from medseg.planning.plan import Plan, make_plan
from medseg.planning.rules import Budget, cpu_budget, gpu_budget

_MISSING = object()


def is_plannable(bundle: Bundle, trust: bool = False) -> bool:
    """Bundles opt in with a ``plan`` key in ``train.json`` (brain_tumor does)."""
    parser = bundle.parser("inference", "train", trust=trust)
    return parser.get("plan", _MISSING) is not _MISSING


def budget_for(device: str = "auto", gpu_memory_gb: float | None = None, dims: int = 3) -> Budget:
    """The budget of ``cpu``, ``cuda`` (this machine's GPU, or ``gpu_memory_gb`` of one) or ``auto``."""
    import torch

    device = str(device).lower()
    _check_positive(gpu_memory_gb, "--gpu-memory-gb")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() or gpu_memory_gb else "cpu"
    if device.startswith("cuda"):
        if gpu_memory_gb is None:
            if not torch.cuda.is_available():
                raise InputError("--device cuda: no GPU here to measure; give its memory with --gpu-memory-gb N")
            index = torch.device(device).index or 0
            gpu_memory_gb = torch.cuda.get_device_properties(index).total_memory / 1e9
        return gpu_budget(float(gpu_memory_gb), dims)
    if device != "cpu":
        raise InputError(f"--device {device!r}: expected auto, cpu or cuda[:N]")
    return cpu_budget(dims=dims)


def _check_positive(value: float | None, option: str) -> None:
    """``nan``, ``inf``, ``0`` or a negative number would plan nonsense (or crash later): refuse it here."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"{option} must be a finite positive number, got {value:g}")


def _network(bundle: Bundle, trust: bool) -> dict[str, Any]:
    parser = bundle.parser("inference", "train", trust=trust)
    network = parser.get("network_def", {})
    return network if isinstance(network, dict) else {}


def _check(bundle: Bundle, manifest: str | Path, in_channels: int, dims: int) -> None:
    """The fast manifest checks training runs, first: every problem in one error, before any case is read."""
    loaded = load_manifest(manifest, modalities=bundle.modalities)
    subsets = ModalitySubsets.from_metadata(bundle.metadata)  # studies may lack sequences the bundle can spare
    problems = check_manifest(loaded, bundle.schema, in_channels, dims, sections=("training", "validation"),
                              subsets=subsets)
    if problems:
        raise problems_error(problems, loaded.path)


def plan_for_bundle(bundle: Bundle, manifest: str | Path, device: str = "auto", gpu_memory_gb: float | None = None,
                    time_limit_min: float | None = None, trust: bool = False) -> Plan:
    """Fingerprint the manifest's training cases and plan them for the bundle on a device."""
    _check_positive(time_limit_min, "--time-limit")
    network = _network(bundle, trust)
    dims = int(bundle.metadata.get("medseg", {}).get("dims", 3))
    in_channels = int(network.get("in_channels", len(bundle.modalities)))
    out_channels = int(network.get("out_channels", bundle.schema.num_channels))
    _check(bundle, manifest, in_channels, dims)
    fingerprint = fingerprint_manifest(manifest, bundle.modalities)
    if fingerprint.spatial_dims != dims:
        raise InputError(f"the data are {fingerprint.spatial_dims}D, bundle {bundle.name} is {dims}D", manifest)
    return make_plan(fingerprint, budget_for(device, gpu_memory_gb, dims), in_channels, out_channels, time_limit_min)


def plan_overrides(bundle: Bundle, plan: Plan, trust: bool = False) -> dict[str, Any]:
    """The plan's config keys that this bundle defines (others are left out, not invented)."""
    network = _network(bundle, trust)
    in_channels = int(network.get("in_channels", len(bundle.modalities)))
    out_channels = int(network.get("out_channels", bundle.schema.num_channels))
    parser = bundle.parser("inference", "train", trust=trust)
    return {key: value for key, value in plan.overrides(in_channels, out_channels).items()
            if parser.get(key, _MISSING) is not _MISSING}


def recipe_lines(bundle: Bundle, trust: bool = False) -> list[str]:
    """What a bundle that does not plan (no ``plan`` key) trains with, read from its configs."""
    parser = bundle.parser("inference", "train", trust=trust)
    network = _network(bundle, trust)

    def value(key: str) -> Any:
        found = parser.get(key, None)
        return found if not isinstance(found, str) or not found.startswith("@") else parser.get(found[1:], None)

    size = value("patch_size") or value("roi_size")
    return [
        f"{bundle.name}: no plan (its train.json has no 'plan' key); the bundle's own recipe:",
        f"network: {str(network.get('_target_', '?')).rsplit('.', 1)[-1]}, "
        f"{len(network.get('channels') or network.get('filters') or [])} levels",
        f"input size: {' x '.join(map(str, size)) if size else 'whole image'}"
        + (f", sliding window {' x '.join(map(str, value('roi_size')))}" if value("roi_size") else ""),
        f"training: {value('epochs')} epochs, batch {value('batch_size')}, learning rate {value('learning_rate')}",
    ]
