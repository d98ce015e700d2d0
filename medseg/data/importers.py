"""Importers: the dataset layouts the field uses → one medseg manifest per dataset.

Every layout is reduced to the same thing: cases (image files in the bundle's modality order, a
label file or none), the names of the source's label values, and, for 4D images, which source
channel feeds which bundle modality. Label values are mapped onto the bundle's schema *by name*
through the alias groups in ``formats.json``; the resulting ``label_map`` (and ``channel_order``)
is stored in the manifest as data and applied by a transform, so training code never branches on
a dataset's coding. Paths are stored relative to a data root, so the manifest can be shared.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from medseg.bundle.find import Bundle, find_bundle
from medseg.data.layouts import layout_cases
from medseg.data.manifest import write_manifest
from medseg.errors import InputError
from medseg.io.caseid import check_case_id, check_unique_ids
from medseg.io.dicom import is_dicom_folder
from medseg.io.masks import BITMAP_SUFFIXES
from medseg.io.read import NIFTI_SUFFIXES, find_case_modalities, is_nifti, strip_nifti_suffix
from medseg.modalities import ModalitySubsets

FORMATS_FILE = Path(__file__).with_name("formats.json")
IMAGE_SUFFIXES = (*NIFTI_SUFFIXES, *BITMAP_SUFFIXES)
IMAGE_DIRS = ("images", "imagesTr", "image", "img", "imgs")
LABEL_DIRS = ("labels", "labelsTr", "masks", "label", "mask", "segmentations")
LABEL_SUFFIXES = ("seg", "mask", "label", "labels", "gt")


@cache
def formats() -> dict[str, Any]:
    return json.loads(FORMATS_FILE.read_text())


FORMAT_NAMES = ("msd", "brats", "nnunet", "folder")


@dataclass
class Entry:
    """One imported case, with absolute paths."""

    case_id: str
    images: list[Path]
    label: Path | list[Path] | None = None  # a list: one mask file per structure (``layouts``)
    missing: list[str] = field(default_factory=list)  # bundle modalities the case lacks (supported subsets)

    def __post_init__(self) -> None:  # the id names output files later: one rule (medseg.io.caseid)
        check_case_id(self.case_id, self.images[0] if self.images else None)


@dataclass
class Imported:
    """What an importer found: cases, the source label names (value → name) and channel order."""

    cases: list[Entry]
    test: list[Entry] = field(default_factory=list)
    label_names: dict[int, str] | None = None
    channel_order: list[int] | None = None
    variant: str = ""


def normalise(name: str) -> str:
    """Compare names loosely: case, punctuation and US/UK spelling do not matter."""
    text = re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()
    return re.sub(r"\bedema\b", "oedema", re.sub(r"\btumor\b", "tumour", text))


def _same(a: str, b: str, groups: list[list[str]]) -> bool:
    a, b = normalise(a), normalise(b)
    if a == b:
        return True
    return any(a in group and b in group for group in ({normalise(n) for n in g} for g in groups))


def match_modalities(source: list[str], bundle: Bundle, where: str | Path) -> list[int]:
    """Index into ``source`` for each bundle modality (by name, through the alias groups)."""
    wanted = bundle.modalities
    if len(wanted) == 1 and len(source) == 1:
        return [0]
    order = []
    for modality in wanted:
        hits = [i for i, name in enumerate(source) if _same(name, modality, formats()["modality_aliases"])]
        if len(hits) != 1:
            raise InputError(
                f"cannot tell which source channel is the bundle's '{modality}' (source channels: {source}; "
                f"bundle modalities: {wanted})", where)
        order.append(hits[0])
    return order


def label_map_for(names: dict[int, str], bundle: Bundle, where: str | Path) -> dict[int, int]:
    """Source value → bundle value, matching label names through the alias groups."""
    mapping: dict[int, int] = {}
    for value, name in sorted(names.items()):
        if value == 0:
            continue
        hits = [lab.value for lab in bundle.schema.labels if _same(name, lab.name, formats()["label_aliases"])]
        if len(hits) != 1:
            known = ", ".join(f"{lab.value}={lab.name}" for lab in bundle.schema.labels)
            raise InputError(
                f"source label {value} '{name}' matches no label of bundle '{bundle.name}' ({known}); "
                f"pass --label-map {value}=VALUE", where)
        mapping[value] = hits[0]
    return mapping


def parse_label_map(text: str | None) -> dict[int, int]:
    """``"255=1,128=2"`` → ``{255: 1, 128: 2}``."""
    if not text:
        return {}
    try:
        pairs = (item.split("=") for item in text.split(",") if item.strip())
        return {int(src): int(dst) for src, dst in pairs}
    except ValueError as exc:
        raise InputError(f"--label-map must look like 1=2,2=1,3=4 (got {text!r})") from exc


# -- layouts ---------------------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read dataset description ({exc})", path) from exc


def brats_folders(source: Path) -> list[Path]:
    """The case folders of a BraTS dataset: sub-folders holding NIfTI files (linked folders followed)."""
    return sorted(p for p in source.iterdir() if p.is_dir() and any(is_nifti(f) for f in p.iterdir()))


def brats_variant(folder: Path) -> str:
    """``brats2023`` when a case folder's files are named the 2023 way (``-t1n``, ``-seg``), else ``brats``."""
    newer = any(strip_nifti_suffix(f.name).endswith(("-t1n", "-seg")) for f in folder.iterdir())
    return "brats2023" if newer else "brats"


def brats_label(folder: Path) -> Path | None:
    """A BraTS case folder's label file (``<case>_seg.nii.gz`` or ``<case>-seg.nii.gz``), if it has one."""
    labels = sorted(f for f in folder.iterdir()
                    if is_nifti(f) and strip_nifti_suffix(f.name).endswith(("_seg", "-seg")))
    return labels[0] if labels else None


def brats_label_names(variant: str) -> dict[int, str]:
    """The label values a BraTS variant's files hold, by name (``formats.json``)."""
    return {int(v): n for v, n in formats()["formats"][variant]["labels"].items()}


def import_brats(source: Path, bundle: Bundle) -> Imported:
    """BraTS 2018-2021 or 2023 case folders (the variant is recognised from the file names)."""
    folders = brats_folders(source)
    if not folders:
        raise InputError("no BraTS case folders (<case>/<case>_t1.nii.gz ...) found", source)
    variant = brats_variant(folders[0])
    spec = formats()["formats"][variant]
    suffixes = list(spec["modalities"])
    order = match_modalities(list(spec["modalities"].values()), bundle, source)
    # the source's file suffix for each bundle modality; a bundle that supports subsets accepts cases
    # that lack some sequences (BraTS 2015 as shipped by DeepMedic: FLAIR and T1ce only)
    subsets = ModalitySubsets.from_metadata(bundle.metadata)
    source_subsets = ModalitySubsets.build([suffixes[i] for i in order],
                                           [suffixes[order[bundle.modalities.index(m)]] for m in subsets.require_any])
    cases, test = [], []
    for folder in folders:
        images, missing = find_case_modalities(folder, source_subsets)
        names = [bundle.modalities[source_subsets.modalities.index(m)] for m in missing]
        entry = Entry(folder.name, list(images), brats_label(folder), names)
        (cases if entry.label else test).append(entry)
    return Imported(cases, test, brats_label_names(variant), variant=variant)


def import_msd(source: Path, bundle: Bundle) -> Imported:
    """An MSD task folder: 4D images, channels named in dataset.json's ``modality``."""
    description = _read_json(source / "dataset.json")
    channels = [description.get("modality", {}).get(str(i)) for i in range(len(description.get("modality", {})))]
    order = match_modalities([str(c) for c in channels], bundle, source / "dataset.json")

    def entry(image: str, label: str | None) -> Entry:
        path = source / image
        return Entry(strip_nifti_suffix(path.name), [path], source / label if label else None)

    cases = [entry(item["image"], item.get("label")) for item in description.get("training", [])]
    test = [entry(item if isinstance(item, str) else item["image"], None) for item in description.get("test", [])]
    names = {int(v): str(n) for v, n in description.get("labels", {}).items()}
    identity = order == list(range(len(channels)))
    return Imported(cases, test, names, None if identity else order, variant="msd")


def import_nnunet(source: Path, bundle: Bundle) -> Imported:
    """An nnU-Net v2 raw dataset: one file per channel (``<case>_0000``), labels in labelsTr."""
    description = _read_json(source / "dataset.json")
    channel_names = description.get("channel_names") or description.get("modality") or {}
    channels = [str(channel_names[str(i)]) for i in range(len(channel_names))]
    order = match_modalities(channels, bundle, source / "dataset.json")
    ending = description.get("file_ending", ".nii.gz")
    names: dict[int, str] = {}
    for name, value in description.get("labels", {}).items():
        if not isinstance(value, int):
            raise InputError(f"region-based nnU-Net label '{name}' ({value}) is not supported", source / "dataset.json")
        names[value] = name

    def cases_in(images_dir: Path, labels_dir: Path | None) -> list[Entry]:
        ids = sorted({p.name[: -len(ending)][:-5] for p in images_dir.glob(f"*_0000{ending}")})
        out = []
        for case_id in ids:
            images = [images_dir / f"{case_id}_{i:04d}{ending}" for i in order]
            label = labels_dir / f"{case_id}{ending}" if labels_dir else None
            out.append(Entry(case_id, images, label if label and label.exists() else None))
        return out

    if not (source / "imagesTr").is_dir():
        raise InputError("no imagesTr folder in the nnU-Net dataset", source)
    cases = cases_in(source / "imagesTr", source / "labelsTr")
    test = [c for c in cases if c.label is None]
    if (source / "imagesTs").is_dir():
        test += cases_in(source / "imagesTs", None)
    return Imported([c for c in cases if c.label], test, names, variant="nnunet")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def label_key(path: Path) -> str:
    stem = _stem(path)
    match = re.fullmatch(rf"(.+?)[_-](?:{'|'.join(LABEL_SUFFIXES)})", stem, flags=re.IGNORECASE)
    return match.group(1) if match else stem


def import_folder(source: Path, bundle: Bundle) -> Imported:
    """``images/`` + ``labels/`` (or ``masks/``) paired by file name, or a CSV (image[,label] columns)."""
    if source.suffix.lower() == ".csv":
        return _import_csv(source)
    image_dir = next((source / d for d in IMAGE_DIRS if (source / d).is_dir()), None)
    label_dir = next((source / d for d in LABEL_DIRS if (source / d).is_dir()), None)
    if image_dir is None:
        raise InputError(f"no image folder ({', '.join(IMAGE_DIRS)}) found", source)
    return pair_folders(image_dir, label_dir)


def pair_folders(image_dir: Path, label_dir: Path | None) -> Imported:
    """Images paired with masks of the same name (``x.png`` ↔ ``x.png`` / ``x_seg.png`` / ``x_mask.nii.gz``).

    An image may also be a DICOM series folder (``ct1/`` ↔ ``ct1.nii.gz``).
    """
    if not image_dir.is_dir():
        raise InputError("image folder not found", image_dir)
    if label_dir is not None and not label_dir.is_dir():
        raise InputError("mask folder not found", label_dir)
    images = sorted(p for p in image_dir.iterdir() if p.name.lower().endswith(IMAGE_SUFFIXES) or is_dicom_folder(p))
    labels = {label_key(p): p for p in sorted(label_dir.iterdir())} if label_dir else {}
    entries = [Entry(_stem(p), [p], labels.get(_stem(p))) for p in images]
    if not entries:
        raise InputError("no images found", image_dir)
    return Imported([e for e in entries if e.label], [e for e in entries if not e.label], variant="folder")


def _import_csv(source: Path) -> Imported:
    """Columns: ``image`` (several files separated by ``;``), optional ``label`` and ``id``."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "image" not in rows[0]:
        raise InputError("the CSV needs an 'image' column (and usually 'label')", source)
    entries = []
    for row in rows:
        images = [source.parent / p.strip() for p in row["image"].split(";") if p.strip()]
        label = source.parent / row["label"].strip() if (row.get("label") or "").strip() else None
        entries.append(Entry(row.get("id") or _stem(images[0]), images, label))
    return Imported([e for e in entries if e.label], [e for e in entries if not e.label], variant="csv")


IMPORTERS = {"msd": import_msd, "brats": import_brats, "nnunet": import_nnunet, "folder": import_folder}


# -- manifest --------------------------------------------------------------------------------------
def assign_folds(case_ids: list[str], n_folds: int, seed: int) -> dict[str, int]:
    """Seeded, order-independent k-fold assignment: sort, shuffle with ``seed``, deal round-robin."""
    shuffled = sorted(case_ids)
    random.Random(seed).shuffle(shuffled)
    return {case_id: i % n_folds for i, case_id in enumerate(shuffled)}


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()  # keep symlinks
    except ValueError as exc:
        raise InputError(f"file is outside the data root {root}", path) from exc


def import_dataset(
    fmt: str,
    source: str | Path,
    bundle: str | Path,
    output: str | Path,
    data_root: str | Path | None = None,
    folds: int = 5,
    seed: int = 0,
    test_fraction: float = 0.0,
    label_map: dict[int, int] | None = None,
    layout: str | None = None,
    ignore: int | None = None,
) -> Path:
    """Import ``source`` (format ``fmt``; a folder may name a ``layout``) for ``bundle``, write the manifest.

    ``ignore``: the source value of unannotated voxels, mapped onto the bundle's void value (its ``label_map``)."""
    if fmt not in IMPORTERS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}")
    if layout is not None and fmt != "folder":
        raise InputError(f"--layout is for the folder format, not {fmt!r}")
    source = Path(source)
    if not source.exists():
        raise InputError("dataset not found", source)
    target = find_bundle(bundle)
    if ignore is not None:
        if target.schema.void is None:
            raise InputError(f"--ignore {ignore}: bundle '{target.name}' has no void value (create it with "
                             "bundle new --ignore)", target.root)
        label_map = {**(label_map or {}), ignore: target.schema.void}
    if layout:
        imported = Imported([Entry(*case) for case in layout_cases(source, target, layout)], variant=f"folder/{layout}")
    else:
        imported = IMPORTERS[fmt](source, target)
    root = Path(data_root) if data_root else (source.parent if source.is_file() else source)
    return write_imported(imported, target, output, root, folds, seed, test_fraction, label_map)


def write_imported(
    imported: Imported,
    target: Bundle,
    output: str | Path,
    root: Path,
    folds: int = 5,
    seed: int = 0,
    test_fraction: float = 0.0,
    label_map: dict[int, int] | None = None,
    mask_coding: dict[str, Any] | None = None,
) -> Path:
    """Map labels onto ``target``'s schema, assign folds and test cases, write the manifest."""
    if not imported.cases:
        raise InputError("no labelled cases found", root)
    check_unique_ids(((e.case_id, e.images[0]) for e in [*imported.cases, *imported.test]), root)
    explicit = label_map or {}
    names = {v: n for v, n in (imported.label_names or {}).items() if v not in explicit}
    mapping = {**label_map_for(names, target, root), **explicit}
    output = Path(output)

    shuffled = sorted(imported.cases, key=lambda e: e.case_id)
    random.Random(seed).shuffle(shuffled)
    n_test = round(len(shuffled) * test_fraction)
    held_out, training = shuffled[:n_test], sorted(shuffled[n_test:], key=lambda e: e.case_id)
    n_folds = max(1, min(folds, len(training)))
    fold_of = assign_folds([e.case_id for e in training], n_folds, seed)

    def as_dict(entry: Entry, fold: int | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"id": entry.case_id, "image": [_relative(p, root) for p in entry.images]}
        if isinstance(entry.label, list):
            item["label"] = [_relative(p, root) for p in entry.label]
        elif entry.label is not None:
            item["label"] = _relative(entry.label, root)
        if entry.missing:
            item["missing"] = list(entry.missing)
        if fold is not None:
            item["fold"] = fold
        return item

    extra: dict[str, Any] = {
        "format": imported.variant,
        "bundle": target.name,
        "data_root": os.path.relpath(os.path.abspath(root), os.path.abspath(output.parent)),
        "folds": n_folds,
        "seed": seed,
    }
    if mapping:
        extra["label_map"] = {str(k): v for k, v in sorted(mapping.items())}
    if imported.channel_order:
        extra["channel_order"] = imported.channel_order
    if mask_coding:
        extra["mask_coding"] = mask_coding
    sections = {
        "training": [as_dict(e, fold_of[e.case_id]) for e in training],
        "validation": [],
        "test": [as_dict(e) for e in sorted(held_out + imported.test, key=lambda e: e.case_id)],
    }
    return write_manifest(output, sections, **extra)
