"""Check a whole dataset before training: every problem of every case, in one pass.

Fast checks read headers (and the small label volumes): files exist and read, the modalities of a
case share a grid, the label lies on the image grid, label values are ones the bundle (or the
manifest's ``label_map``) knows, the channel count fits the network, no case is in two sections,
and some training label holds a structure (a dataset of background only trains to Dice 0).
``deep`` checks read the images too: NaN/Inf voxels, constant images, empty labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from medseg.bundle.find import find_bundle
from medseg.data.manifest import Manifest, load_manifest, manifest_bundle
from medseg.errors import InputError
from medseg.io.checks import CaseRules, case_problems
from medseg.io.masks import BINARY_THRESHOLD, MaskCoding, is_bitmap, read_mask
from medseg.io.read import CaseFiles
from medseg.io.validate import read_voxels
from medseg.labels import LabelSchema
from medseg.modalities import ModalitySubsets


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file of one case."""

    case: str
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.case}: {self.file}: {self.message}" if self.file else f"{self.case}: {self.message}"


class CaseChecker:
    """Collects every problem (``medseg.io.checks``) of the cases of one manifest against one bundle."""

    def __init__(self, manifest: Manifest, schema: LabelSchema, num_channels: int, spatial_dims: int = 3,
                 deep: bool = False, subsets: ModalitySubsets | None = None) -> None:
        allowed = manifest.source_label_values or {*schema.label_values, *([schema.void] if schema.void else [])}
        self.rules = CaseRules(
            num_channels, spatial_dims, overlapping=schema.mode == "overlapping",
            structures=tuple(schema.channel_names), label_values=frozenset({0, *allowed}),
            channel_order=tuple(manifest.channel_order) if manifest.channel_order is not None else None,
            mask_coding=manifest.mask_coding, deep=deep)
        self.subsets = subsets  # which sequences a case may lack (None: every one is needed)
        self.notes: list[Problem] = []  # facts worth saying that do not stop training (a supported subset)
        self.problems: list[Problem] = []

    def _check_missing(self, case: CaseFiles) -> None:
        """A study without some sequences: a note when the bundle supports its subset, else a problem."""
        missing = ", ".join(case.missing)
        subsets = self.subsets
        if subsets is not None and subsets.supports(m for m in subsets.modalities if m not in case.missing):
            self.notes.append(Problem(case.case_id, "", f"missing sequences {missing} (supported: "
                                                        f"{subsets.describe()}; filled as in modality dropout)"))
        else:
            needs = subsets.describe() if subsets is not None else "every modality"
            self.problems.append(Problem(case.case_id, str(case.reference),
                                         f"missing sequences {missing}; the bundle needs {needs}"))

    def check(self, case: CaseFiles, needs_label: bool) -> None:
        if case.missing:
            self._check_missing(case)
        for problem in case_problems(case, replace(self.rules, needs_label=needs_label)):
            self.problems.append(Problem(case.case_id, str(problem.path) if problem.path else "", problem.message))


def check_manifest(
    manifest: Manifest,
    schema: LabelSchema,
    num_channels: int,
    spatial_dims: int = 3,
    deep: bool = False,
    sections: Iterable[str] = ("training", "validation", "test"),
    subsets: ModalitySubsets | None = None,
    notes: list[Problem] | None = None,
) -> list[Problem]:
    """Every problem of every case in ``sections`` (empty list: the data is fit to train on).

    ``subsets``: the sequences a case may lack; such cases are added to ``notes`` when given."""
    checker = CaseChecker(manifest, schema, num_channels, spatial_dims, deep, subsets)
    seen: dict[str, str] = {}
    for section in sections:
        for case in manifest.cases(section):
            if case.case_id in seen:
                where = "twice in" if seen[case.case_id] == section else f"in both {seen[case.case_id]} and"
                checker.problems.append(Problem(case.case_id, "", f"case is listed {where} {section}"))
                continue
            seen[case.case_id] = section
            checker.check(case, needs_label=section != "test")
    if "training" in sections:
        checker.problems.extend(_all_background(manifest, [s for s in ("training", "validation") if s in sections]))
    if notes is not None:
        notes.extend(checker.notes)
    return checker.problems


def _foreground(case: CaseFiles, manifest: Manifest) -> bool | None:
    """Whether the case's label holds any structure, read as training reads it (None: it cannot be read,
    a problem the case checks already name)."""
    labels = case.label if isinstance(case.label, tuple) else (case.label,)
    try:
        for path in labels:
            if is_bitmap(path):  # one file per structure is binary; a label map goes through the manifest's coding
                coding = MaskCoding(threshold=BINARY_THRESHOLD) if len(labels) > 1 else \
                    MaskCoding.from_json(manifest.mask_coding)
                if read_mask(path, coding).any():
                    return True
                continue
            values = np.unique(np.rint(read_voxels(path))).astype(np.int64)
            if any(manifest.label_map.get(int(v), int(v)) != 0 for v in values):
                return True
    except Exception:  # noqa: BLE001 - unreadable labels are reported by the case checks
        return None
    return False


def _all_background(manifest: Manifest, sections: list[str]) -> list[Problem]:
    """A dataset whose labels are all background trains to Dice 0 without a word: refuse it.

    Reading stops at the first label that holds a structure, so a usable dataset costs one label read."""
    read = 0
    for section in sections:
        for case in manifest.cases(section):
            if case.label is None:
                continue
            found = _foreground(case, manifest)
            if found:
                return []
            read += found is not None
    if not read:
        return []  # no label could be read: the case checks say why
    return [Problem(" and ".join(sections), "", f"all {read} label(s) are background (no structure in any of "
                                               "them): there is nothing to learn; check the masks, their coding "
                                               "(--labels NAME=VALUE, --label-map) or the manifest's paths")]


def bundle_inputs(bundle) -> tuple[int, int]:
    """(input channels, spatial dims) a bundle's network expects, from its metadata."""
    meta = bundle.metadata
    inputs = next(iter(meta.get("network_data_format", {}).get("inputs", {}).values()), {})
    channels = int(inputs.get("num_channels", len(bundle.modalities)))
    return channels, int(meta.get("medseg", {}).get("dims", 3))


def check_dataset(manifest_path: str | Path, bundle: str | Path | None = None, deep: bool = False,
                  data_root: str | Path | None = None, notes: list[Problem] | None = None) -> list[Problem]:
    """``medseg data check``: load the manifest for ``bundle`` (default: the one it names) and list every
    problem (and ``notes``)."""
    found = find_bundle(bundle if bundle is not None else manifest_bundle(manifest_path))
    manifest = load_manifest(manifest_path, data_root=data_root, modalities=found.modalities)
    channels, dims = bundle_inputs(found)
    subsets = ModalitySubsets.from_metadata(found.metadata)
    return check_manifest(manifest, found.schema, channels, dims, deep=deep, subsets=subsets, notes=notes)


def problems_error(problems: list[Problem], manifest: Path) -> InputError:
    """One error listing every problem (``medseg train`` stops with it before training).

    A single problem stays a single line, named by its file, like every other medseg error.
    """
    if len(problems) == 1:
        return InputError(f"{problems[0]} (nothing was trained)", manifest)
    lines = "\n".join(f"  {p}" for p in problems)
    return InputError(f"{len(problems)} problem(s) in the data, nothing was trained:\n{lines}", manifest)
