"""Which zoo channel is which medseg modality and label: the known-task table (``tasks.json``), or a guess.

A zoo network has its own input order (``brats_mri_segmentation``: T1c, T1, T2, FLAIR) and output
order (TC, WT, ET). medseg keeps its own orders (modalities as a case folder and a manifest give
them; channels as the label schema paints them) and records the two permutations between them,
which ``medseg.bundle.zoo.network.ChannelMapped`` applies around the zoo network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from medseg.errors import BundleError
from medseg.locations import PACKAGE_ROOT

TABLE = Path(__file__).with_name("tasks.json")


@cache
def known_tasks() -> dict[str, dict[str, Any]]:
    """The table of zoo bundles medseg maps, by zoo bundle name."""
    return {k: v for k, v in json.loads(TABLE.read_text()).items() if not k.startswith("_")}


def find_task(folder_name: str, zoo_name: str) -> str | None:
    """The table entry for a zoo bundle, by its folder (download) name or its metadata ``name``."""
    tasks = known_tasks()
    if folder_name in tasks:
        return folder_name
    return next((key for key, task in tasks.items() if task.get("zoo_name", "").lower() == zoo_name.lower()), None)


@dataclass
class Mapping:
    """medseg's view of a zoo network: modalities, schema section and the channel permutations."""

    modalities: list[str]
    schema: dict[str, Any]  # the ``medseg`` metadata section: mode, labels, channels
    input_order: list[int]  # zoo input channel j reads medseg modality input_order[j]
    output_order: list[int]  # medseg output channel i is zoo output channel output_order[i]
    axcodes: str | None = None
    notes: list[str] = field(default_factory=list)  # what was guessed, one line each

    @property
    def identity(self) -> bool:
        return self.input_order == sorted(self.input_order) and self.output_order == sorted(self.output_order)


def _match(names: list[str], wanted: list[str], what: str, source: Path) -> list[int]:
    """Index in ``names`` of each of ``wanted`` (case-insensitive); a missing or extra name is refused."""
    lowered = [n.lower() for n in names]
    if sorted(lowered) != sorted(w.lower() for w in wanted):
        raise BundleError(f"the zoo declares {what} channels {names}; medseg's table expects {wanted} "
                          "(a different version of the bundle?)", source)
    return [lowered.index(w.lower()) for w in wanted]


def known_mapping(key: str, inputs: list[str], outputs: list[str], source: Path) -> Mapping:
    """The table's mapping for zoo bundle ``key``, checked against the zoo's own channel names."""
    task = known_tasks()[key]
    modalities = list(task["modalities"])
    by_modality = {m: zoo for zoo, m in task["inputs"].items()}
    zoo_inputs = _match(inputs, [by_modality[m] for m in modalities], "input", source)
    input_order = [zoo_inputs.index(j) for j in range(len(inputs))]
    labels = [{k: v for k, v in lab.items() if k != "zoo"} for lab in task["labels"]]
    if task["mode"] == "overlapping":
        channels = [{k: v for k, v in ch.items() if k != "zoo"} for ch in task["channels"]]
        output_order = _match(outputs, [ch["zoo"] for ch in task["channels"]], "output", source)
    else:
        channels = []
        output_order = _match(outputs, ["background", *[lab["zoo"] for lab in task["labels"]]], "output", source)
    schema = {"mode": task["mode"], "labels": labels, **({"channels": channels} if channels else {})}
    return Mapping(modalities, schema, input_order, output_order, task.get("axcodes"))


def _modality_name(name: str) -> str:
    """A zoo input channel name as a medseg modality (alias groups of ``medseg/data/formats.json``)."""
    aliases = json.loads((PACKAGE_ROOT / "data" / "formats.json").read_text())["modality_aliases"]
    lowered = name.strip().lower()
    for group in aliases:
        if lowered in group:
            return group[0]
    return re.sub(r"[^a-z0-9]+", "_", lowered).strip("_") or "image"


def guessed_mapping(inputs: list[str], outputs: list[str], mode: str, source: Path) -> Mapping:
    """A mapping for a zoo bundle medseg's table does not know, from its metadata channel names.

    Exclusive (softmax/argmax): channel 0 is background, channel i is label i. Overlapping
    (sigmoid): channel i is its own region painted with label i + 1, later channels on top.
    """
    palette = json.loads(TABLE.read_text())["_palette"]
    if not inputs or not outputs:
        raise BundleError("not in medseg's zoo table and its metadata names no input/output channels "
                          "(network_data_format channel_def): cannot map it", source)
    names = outputs[1:] if mode == "exclusive" else outputs
    labels = [{"name": n, "value": i, "color": palette[(i - 1) % len(palette)]}
              for i, n in enumerate(names, start=1)]
    channels = [{"name": n, "values": [i], "paint": i} for i, n in enumerate(names, start=1)]
    schema = {"mode": mode, "labels": labels, **({"channels": channels} if mode == "overlapping" else {})}
    modalities = [_modality_name(n) for n in inputs]
    if len(set(modalities)) != len(modalities):
        modalities = [f"{m}{i}" for i, m in enumerate(modalities)]
    shown = ", ".join(f"{lab['value']}={lab['name']}" for lab in labels[:6]) + (" ..." if len(labels) > 6 else "")
    note = (f"not in medseg's zoo table; guessed: {mode} labels {shown} from metadata channel_def, "
            f"modalities {modalities} in the zoo's order, default colours")
    return Mapping(modalities, schema, list(range(len(inputs))), list(range(len(outputs))), None, [note])
