"""``medseg plan``: what a bundle trains with on this data and device, whichever kind of bundle it is.

A bundle that plans (a ``plan`` key in ``train.json``) is planned now for the data and the device; a
2D bundle from ``bundle new`` shows the plan made from its data when it was created; any other
bundle shows its own recipe. Options that would change nothing for the bundle are refused, not dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medseg.bundle.find import find_bundle
from medseg.errors import InputError, UsageError
from medseg.planning.bundle import is_plannable, plan_for_bundle, recipe_lines
from medseg.planning.planar import stored_plan


@dataclass
class PlanAnswer:
    """The plan (or recipe) of a bundle, as a table for people (``text``) and as JSON (``json``)."""

    text: str
    json: str
    plan: Any = None  # the ``Plan`` made now, or the stored ``PlanarPlan``; None for a recipe


def plan(bundle: str | Path, data: str | Path | None = None, device: str | None = None,
         gpu_memory_gb: float | None = None, time_limit: float | None = None, trust: bool = False) -> PlanAnswer:
    """Fingerprint ``data`` (default: the bundle's own ``dataset.json``) and plan the training of ``bundle``
    for ``device`` (default ``auto``; ``gpu_memory_gb`` plans for a GPU of that size, ``time_limit`` fits
    the schedule to that many minutes). ``None`` is "not given": a bundle that does not plan refuses the rest."""
    found = find_bundle(bundle)
    given = [flag for flag, value in (("--data", data), ("--device", device), ("--gpu-memory-gb", gpu_memory_gb),
                                      ("--time-limit", time_limit)) if value is not None]
    planar = stored_plan(found.metadata)
    if planar is not None:  # a 2D bundle from `bundle new`: planned from its data when it was made
        _refuse(given, f"{found.name} keeps the 2D plan `medseg bundle new` made from its data")
        return PlanAnswer("\n".join(planar.lines()), json.dumps(planar.to_json(), indent=2), planar)
    if not is_plannable(found, trust):
        _refuse(given, f"{found.name} does not plan (no 'plan' key in its train.json); it trains with its own recipe")
        lines = recipe_lines(found, trust)
        return PlanAnswer("\n".join(lines), json.dumps({"bundle": found.name, "plan": None, "recipe": lines}, indent=2))
    manifest = Path(data) if data else found.root / "dataset.json"
    if not manifest.is_file():
        raise InputError("manifest not found (pass --data MANIFEST)", manifest)
    result = plan_for_bundle(found, manifest, device or "auto", gpu_memory_gb, time_limit, trust)
    return PlanAnswer(result.table(), result.to_json(), result)


def _refuse(given: list[str], why: str) -> None:
    """Options that would change nothing for this bundle are refused, not silently dropped."""
    if given:
        hint = " (give --time-limit to medseg train)" if "--time-limit" in given else ""
        raise UsageError(f"{', '.join(given)}: not used: {why}{hint}")
