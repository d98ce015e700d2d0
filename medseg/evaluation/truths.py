"""Truths as ``medseg data import`` reads datasets: the same layouts, label maps and case ids.

``medseg evaluate --truth`` takes a manifest or the folder a dataset came in. A folder is read by the
importers' own rules, tried in this order: an MSD or nnU-Net task (``dataset.json``: label names mapped
onto the bundle), BraTS case folders (``<case>/<case>_seg.nii.gz``, linked folders followed, label names
from ``formats.json``, so BraTS 2012-2016's label 3 scores as the importer maps it), one mask folder per
structure (``masks/<structure>/<id>.png``, JSRT/SCR: a case is its masks, one per structure), a mask
folder beside an image folder, and last a plain folder of label files (links followed). Only that last
one can find two files for one case id; the error then names both and asks for the manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medseg.bundle.find import Bundle
from medseg.data.importers import (
    IMAGE_DIRS,
    IMPORTERS,
    LABEL_DIRS,
    brats_folders,
    brats_label,
    brats_label_names,
    brats_variant,
    formats,
    label_key,
    label_map_for,
    match_modalities,
)
from medseg.data.layouts import bundle_structures
from medseg.data.manifest import load_manifest
from medseg.errors import InputError
from medseg.io.caseid import check_case_id
from medseg.io.masks import is_bitmap
from medseg.io.read import case_id_from_path, is_nifti
from medseg.labels import LabelSchema

TAGS = ("seg", "label", "mask")
Label = Path | tuple[Path, ...]  # a label file, or one mask file per structure in the bundle's channel order


@dataclass
class Truths:
    """Truth labels by case id, how their values map onto the bundle's, and which layout was recognised."""

    labels: dict[str, Label]
    label_map: dict[int, int] = field(default_factory=dict)
    mask_coding: dict[str, Any] | None = None  # a manifest's stored coding of its bitmap masks
    layout: str = "files"
    complete: bool = True  # a folder: every truth needs a prediction (a manifest lists cases never predicted)


def is_label_file(path: Path) -> bool:
    return (is_nifti(path) or is_bitmap(path)) and not path.name.startswith(".")


def label_case_id(path: Path, tags: tuple[str, ...] = ("seg", "label")) -> str:
    """``case7_seg.png`` → ``case7``; NIfTI names as ``case_id_from_path``."""
    if not is_bitmap(path):
        return case_id_from_path(path)
    stem = path.name[: path.name.rfind(".")]
    for tag in tags:
        if stem.lower().endswith(f"_{tag}") or stem.lower().endswith(f"-{tag}"):
            return check_case_id(stem[: -len(tag) - 1], path)
    return check_case_id(stem, path)


def read_truths(truth: Path, target: Bundle | LabelSchema, modalities: list[str] = ()) -> Truths:
    """The truths of a manifest or a folder for ``target`` (a bundle: its layouts and label names apply)."""
    if truth.is_file() and truth.suffix == ".json":
        manifest = load_manifest(truth, modalities=list(modalities))
        labels = {c.case_id: c.label for c in manifest.all_cases() if c.label is not None}
        return Truths(labels, dict(manifest.label_map), manifest.mask_coding, "manifest", complete=False)
    if not truth.is_dir():
        raise InputError("truth must be a folder of label files or a manifest (.json)", truth)
    bundle = target if isinstance(target, Bundle) else None
    schema = bundle.schema if bundle is not None else target
    return (_task(truth, bundle) or _brats(truth, bundle) or _structures(truth, bundle, schema)
            or _pairs(truth) or _files(truth, bundle, schema))


def _task(folder: Path, bundle: Bundle | None) -> Truths | None:
    """An MSD or nnU-Net v2 task folder, read by its importer (cases, ids and label names from dataset.json)."""
    description = folder / "dataset.json"
    if bundle is None or not description.is_file() or not (folder / "labelsTr").is_dir():
        return None
    try:
        kind = "nnunet" if "channel_names" in json.loads(description.read_text()) else "msd"
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read dataset description ({exc})", description) from exc
    imported = IMPORTERS[kind](folder, bundle)
    labels = {e.case_id: e.label for e in imported.cases if isinstance(e.label, Path)}
    return Truths(labels, label_map_for(imported.label_names or {}, bundle, folder), layout=kind)


def _brats(folder: Path, bundle: Bundle | None) -> Truths | None:
    """BraTS case folders with a ``_seg`` file, for a bundle that takes BraTS sequences (images not needed)."""
    cases = {case.name: label for case in brats_folders(folder) if (label := brats_label(case)) is not None}
    if bundle is None or not cases:
        return None
    variant = brats_variant(folder / next(iter(cases)))
    try:
        match_modalities(list(formats()["formats"][variant]["modalities"].values()), bundle, folder)
    except InputError:
        return None  # not a brain-tumour bundle: case folders of another task are plain label files
    return Truths(cases, label_map_for(brats_label_names(variant), bundle, folder), layout=variant)


def _structures(folder: Path, bundle: Bundle | None, schema: LabelSchema) -> Truths | None:
    """``masks/<structure>/<id>.png`` (or the ``masks`` folder itself): one binary mask per structure and case."""
    if schema.mode != "overlapping":
        return None
    names = bundle_structures(bundle) if bundle is not None else list(schema.channel_names)
    base = next((b for b in (folder, folder / "masks") if all((b / n).is_dir() for n in names)), None)
    if base is None:
        return None
    by_structure = {n: {label_key(p): p for p in sorted((base / n).iterdir()) if is_label_file(p)} for n in names}
    labels = {}
    for case in sorted(set().union(*by_structure.values())):
        missing = [n for n in names if case not in by_structure[n]]
        if missing:
            raise InputError(f"case '{case}' has no mask for structure(s) {missing}", base / missing[0])
        labels[check_case_id(case, by_structure[names[0]].get(case))] = tuple(by_structure[n][case] for n in names)
    return Truths(labels, layout="structures")


def _pairs(folder: Path) -> Truths | None:
    """An image folder beside a mask folder (``images/`` + ``masks/``): the masks, by the importer's name rule."""
    masks = next((folder / d for d in LABEL_DIRS if (folder / d).is_dir()), None)
    if masks is None or not any((folder / d).is_dir() for d in IMAGE_DIRS):
        return None
    files = [p for p in sorted(masks.iterdir()) if p.is_file() and is_label_file(p)]
    return Truths(_by_case(((check_case_id(label_key(p), p), p) for p in files), folder), layout="pairs")


def _files(folder: Path, bundle: Bundle | None, schema: LabelSchema) -> Truths:
    """Label files anywhere under ``folder`` (tagged ``_seg``/``_label``/``_mask`` ones when there are any)."""
    files = [p for p in _walk(folder) if is_label_file(p)]
    tagged = [p for p in files if any(f"{sep}{tag}." in p.name.lower() for sep in "_-" for tag in TAGS)]
    structures = bundle_structures(bundle) if bundle is not None else list(schema.channel_names)
    return Truths(_by_case(((label_case_id(p, TAGS), p) for p in tagged or files), folder, structures))


def _by_case(named: Iterable[tuple[str, Path]], folder: Path, structures: list[str] | None = None) -> dict[str, Path]:
    """Label files by case id. Two files of one folder with one id are a collision; two in different folders
    of a layout medseg does not know are a question only the dataset's manifest answers."""
    seen: dict[str, Path] = {}
    for case, path in named:
        first = seen.setdefault(case, path)
        if first == path:
            continue
        if first.parent == path.parent or structures is None:
            raise InputError(f"two truth files have the case id '{case}' ({first.name} and {path.name}); "
                             "keep one of them", path.parent)
        raise InputError(
            f"two truth files have the case id '{case}' ({first} and {path}): the folder is in none of the "
            "layouts `medseg data import` reads (BraTS case folders, MSD/nnU-Net, images/ + masks/, "
            f"masks/<structure>/ with the bundle's structures {', '.join(structures)}); pass the manifest "
            "that `medseg data import` wrote for this data instead (--truth MANIFEST.json)", folder)
    return seen


def _walk(folder: Path) -> Iterator[Path]:
    """Every file under ``folder``, sorted, following linked folders (each real folder once)."""
    visited: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (Path(root) / name for name in sorted(files))
