"""MSD-style data lists: ``{"training": [{"image": [...], "label": ...}], "validation": [...], "test": [...]}``.

Paths are relative to a data root, so a manifest can be shared: the root is ``--data-root``, else
``$MEDSEG_DATA_ROOT``, else the manifest's ``data_root`` key (relative to the manifest), else the
manifest's own folder.

Importers (``medseg data import``) also store how the source is coded, as data: ``label_map``
(source label value → bundle value), ``channel_order`` (which channel of a 4D image feeds each
bundle modality), a seeded k-fold assignment (``fold`` on each training entry, ``folds`` in all)
and a held-out ``test`` list. ``Manifest.item`` hands the first two to the transform chain.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medseg.bundle.find import Bundle
from medseg.errors import InputError, UsageError
from medseg.io.atomic import write_text_atomic
from medseg.io.caseid import check_case_id
from medseg.io.dicom import is_dicom_folder, series_image
from medseg.io.read import CaseFiles, case_id_from_path

SECTIONS = ("training", "validation", "test")


@dataclass
class Manifest:
    """Resolved cases per section, with absolute paths."""

    path: Path
    sections: dict[str, list[CaseFiles]] = field(default_factory=dict)
    label_map: dict[int, int] = field(default_factory=dict)
    channel_order: list[int] | None = None
    folds: dict[str, int] = field(default_factory=dict)
    mask_coding: dict[str, Any] | None = None  # 2D masks as stored (``medseg.io.masks.MaskCoding``), e.g. RGB codes
    modalities: list[str] = field(default_factory=list)  # the bundle's, in channel order

    def cases(self, section: str) -> list[CaseFiles]:
        return self.sections.get(section, [])

    def all_cases(self) -> list[CaseFiles]:
        return [case for section in SECTIONS for case in self.cases(section)]

    def train_validation_split(
        self, validation_fraction: float = 0.2, seed: int = 0, fold: int | None = None
    ) -> tuple[list, list]:
        """Fold ``fold`` as validation; else the manifest's validation list, else a seeded split.

        Training and validation never share a case; test cases are never in either.
        """
        training, validation = list(self.cases("training")), list(self.cases("validation"))
        if fold is not None:
            n_folds = len(set(self.folds.values()))
            if not self.folds or not 0 <= fold < n_folds:
                raise InputError(
                    f"--fold {fold} needs a k-fold assignment with at least {fold + 1} folds in the manifest "
                    f"(it has {n_folds}); import the data with 'medseg data import --folds N'", self.path)
            validation = [c for c in training if self.folds.get(c.case_id) == fold]
            training = [c for c in training if self.folds.get(c.case_id) != fold]
        elif not validation:
            shuffled = sorted(training, key=lambda c: c.case_id)
            random.Random(seed).shuffle(shuffled)
            n_val = max(1, round(len(shuffled) * validation_fraction)) if len(shuffled) > 1 else 0
            n_val = n_val if validation_fraction > 0 else 0
            validation, training = shuffled[:n_val], shuffled[n_val:]
        overlap = {c.case_id for c in training} & {c.case_id for c in validation}
        if overlap:
            raise InputError(f"cases {sorted(overlap)} are in both training and validation", self.path)
        if not training:
            raise InputError("the manifest has no training cases", self.path)
        return training, validation

    def item(self, case: CaseFiles) -> dict[str, Any]:
        """The transform chain's input for ``case``, with the manifest's label map and channel order."""
        item = case_to_dict(case)
        if case.missing:  # filled with zero channels after loading (medseg.transforms.modality)
            item["missing_channels"] = [self.modalities.index(m) for m in case.missing]
        if self.label_map:
            item["label_map"] = dict(self.label_map)
        if self.channel_order is not None:
            item["channel_order"] = list(self.channel_order)
        if self.mask_coding:
            item["mask_coding"] = self.mask_coding
        return item

    @property
    def source_label_values(self) -> set[int] | None:
        """Label values the files may hold (the label map's keys); ``None`` means the bundle's own."""
        return set(self.label_map) if self.label_map else None


def data_root_for(manifest_path: Path, raw: dict[str, Any], data_root: str | Path | None) -> Path:
    if data_root is not None:
        return Path(data_root)
    if os.environ.get("MEDSEG_DATA_ROOT"):
        return Path(os.environ["MEDSEG_DATA_ROOT"])
    if raw.get("data_root"):
        return (manifest_path.parent / raw["data_root"]).resolve()
    return manifest_path.parent.resolve()


def _image_path(path: Path, series: str | None) -> tuple[Path, tuple[Path, ...]]:
    """A file as is; a DICOM series folder as its cached NIfTI conversion (see ``medseg.io.dicom``) and its slices."""
    return series_image(path, series) if path.is_dir() and is_dicom_folder(path) else (path, ())


def _entry_to_case(entry: Any, root: Path, modalities: list[str], where: str, manifest: Path) -> CaseFiles:
    if not isinstance(entry, dict) or "image" not in entry:
        raise InputError(f"{where}: each entry needs an 'image' key", manifest)
    images = entry["image"] if isinstance(entry["image"], list) else [entry["image"]]
    resolved = [_image_path(root / p, entry.get("series")) for p in images]
    image_paths = tuple(path for path, _ in resolved)
    raw_label = entry.get("label")
    label = root / raw_label if isinstance(raw_label, str) and raw_label else None
    if isinstance(raw_label, list):  # one mask file per structure
        label = tuple(root / p for p in raw_label)
    named_by = label if isinstance(label, Path) else image_paths[0]
    case_id = check_case_id(entry["id"], manifest) if "id" in entry else case_id_from_path(named_by, modalities)
    missing = tuple(str(m) for m in entry.get("missing") or ())
    unknown = sorted(set(missing) - set(modalities)) if modalities else []
    if unknown:
        raise InputError(f"{where}: 'missing' names unknown modalities {unknown} (bundle: {modalities})", manifest)
    return CaseFiles(case_id, image_paths, label, dicom_series=resolved[0][1] if resolved else (), missing=missing)


def _label_map(raw: dict[str, Any], path: Path) -> dict[int, int]:
    try:
        return {int(k): int(v) for k, v in (raw.get("label_map") or {}).items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError("'label_map' must map label values to label values, e.g. {\"1\": 2}", path) from exc


def load_manifest(path: str | Path, data_root: str | Path | None = None, modalities: list[str] = ()) -> Manifest:
    """Read a manifest and resolve its paths; missing files are reported by ``check`` later."""
    path = Path(path)
    if not path.is_file():
        raise InputError("manifest not found", path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"manifest is not valid JSON ({exc})", path) from exc
    if not isinstance(raw, dict):
        raise InputError("manifest must be a JSON object with 'training'/'validation'/'test' lists", path)
    root = data_root_for(path, raw, data_root)
    manifest = Manifest(path, label_map=_label_map(raw, path), channel_order=raw.get("channel_order"),
                        mask_coding=raw.get("mask_coding") or None, modalities=list(modalities))
    for section in SECTIONS:
        entries = raw.get(section, [])
        if not isinstance(entries, list):
            raise InputError(f"'{section}' must be a list", path)
        manifest.sections[section] = [
            _entry_to_case(e, root, list(modalities), f"{section}[{i}]", path) for i, e in enumerate(entries)
        ]
    for entry, case in zip(raw.get("training", []), manifest.cases("training")):
        if isinstance(entry.get("fold"), int):
            manifest.folds[case.case_id] = entry["fold"]
    if not manifest.all_cases():
        raise InputError("the manifest lists no cases", path)
    return manifest


def manifest_bundle(path: str | Path) -> str | Path:
    """The bundle a manifest was written for (its ``bundle``, which ``data import`` and ``bundle new`` set): the
    folder holding it when it is that bundle's own ``dataset.json``, else the name."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the manifest ({exc})", path) from exc
    name = raw.get("bundle") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not name:
        raise UsageError("the manifest names no bundle (those of `medseg data import` and `medseg bundle new` do); "
                         "pass --bundle", path)
    home = path.resolve().parent
    if (home / "configs" / "metadata.json").is_file() and Bundle(home).name == name:
        return home
    return name


def case_to_dict(case: CaseFiles) -> dict[str, Any]:
    """The dict a MONAI dictionary transform chain expects."""
    item: dict[str, Any] = {"id": case.case_id, "image": [str(p) for p in case.images]}
    if isinstance(case.label, tuple):
        item["label"] = [str(p) for p in case.label]
    elif case.label is not None:
        item["label"] = str(case.label)
    return item


def write_manifest(path: str | Path, sections: dict[str, list[dict[str, Any]]], **extra: Any) -> Path:
    """Write a manifest atomically."""
    return write_text_atomic(path, json.dumps({**extra, **sections}, indent=2) + "\n")
