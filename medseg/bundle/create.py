"""``medseg bundle new``: any image/mask folder becomes a trainable bundle with its own label schema.

The folder is inspected (2D or 3D, channel count, mask values), a bundle is written from the
``planar`` (2D) or ``volume`` (3D) template with metadata carrying the label schema, and the
pairs are imported into ``<bundle>/dataset.json`` so ``medseg train NAME`` runs at once.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from medseg.bundle.find import Bundle, verify_bundle
from medseg.bundle.trust import seal
from medseg.data.importers import pair_folders, write_imported
from medseg.errors import BundleError, InputError, OutputError, warn
from medseg.io.atomic import write_text_atomic
from medseg.io.checks import read_header, voxels
from medseg.io.coding import LabelSpec, code_values, infer_coding
from medseg.io.masks import SAMPLE, MaskCoding, is_bitmap, read_mask
from medseg.io.read import MIN_VOXELS, check_study_size
from medseg.labels import VOID
from medseg.locations import USER_BUNDLES
from medseg.planning import plan_for_bundle
from medseg.planning.intensity import describe as describe_intensity
from medseg.planning.intensity import volume_intensity
from medseg.planning.pieces import smallest_pieces
from medseg.planning.planar import fingerprint, has_handedness, plan_2d

PALETTE = [(230, 60, 50), (90, 200, 80), (250, 220, 40), (60, 120, 230), (240, 140, 40), (160, 80, 200),
           (70, 210, 210), (240, 100, 200), (150, 150, 60), (120, 70, 40), (200, 200, 200), (30, 90, 60)]
METADATA_SCHEMA_URL = (
    "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20220324.json"
)


def _fill(template: str, **values: Any) -> str:
    """A template from ``medseg/templates`` with every ``{{key}}`` replaced (``$`` stays: configs use it)."""
    text = resources.files("medseg.bundle.templates").joinpath(template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    left = re.findall(r"{{(\w+)}}", text)
    if left:
        raise BundleError(f"template {template} needs values for {left}")
    return text


def _inspect(image: Path, dims: int | None) -> tuple[int, int]:
    """(spatial dims, channels) of the first image; PNG/JPEG/TIFF are 2D, a NIfTI with one slice too."""
    header = read_header(image, 3)
    guessed = 2 if is_bitmap(image) or header.spatial[2] == 1 else 3
    dims = dims or guessed
    if dims == 3 and guessed == 2:
        raise InputError("the images are 2D; use --dims 2", image)
    channels = header.channels if dims == 3 else read_header(image, 2).channels
    return dims, channels


def _check_image(path: Path, dims: int) -> None:
    """Refuse, before anything is written, an image that training would refuse or misread later: one
    under ``MIN_VOXELS`` per axis, an animated or multi-page file (one frame would be used), a CMYK JPEG
    (it would become a 4-channel bundle)."""
    if path.is_dir():  # a DICOM series folder: its own reader checks it
        return
    header = read_header(path, dims)
    check_study_size(tuple(header.spatial[:dims]), path)
    if is_bitmap(path):
        frames = getattr(header.image, "n_frames", 1)
        if frames > 1:
            raise InputError(f"holds {frames} frames (an animated or multi-page image); medseg reads one image "
                             "per file: save the frame you mean as its own PNG", path)
        if header.image.mode == "CMYK":
            raise InputError("is a CMYK image (print colours); medseg reads grey or RGB images, and CMYK would "
                             "become 4 input channels: convert it to RGB first", path)


def _say_what_is_left_out(images: Path, masks: Path, imported) -> None:
    """One warning line each for files the bundle will not train on: unreadable kinds in the image
    folder (an animated GIF, a note), masks without an image, images without a mask (test cases)."""
    used = {p.resolve() for e in [*imported.cases, *imported.test] for p in [*e.images, e.label] if p is not None}

    def shown(paths: list[Path]) -> str:
        names = [_describe_file(p) for p in paths[:5]]
        return ", ".join(names) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")

    def listed(folder: Path) -> list[Path]:
        return [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and p.resolve() not in used]

    skipped = listed(images)
    if skipped:
        warn(f"{len(skipped)} file(s) skipped, not images medseg reads (PNG, JPEG, BMP, TIFF, NIfTI, DICOM series "
             f"folders): {shown(skipped)}", images)
    orphans = listed(masks)
    if orphans:
        warn(f"{len(orphans)} mask(s) without an image of the same name, not used: {shown(orphans)}", masks)
    if imported.test:
        warn(f"{len(imported.test)} image(s) without a mask: listed as test cases in dataset.json, not trained on: "
             f"{shown([e.images[0] for e in imported.test])}", images)


def _describe_file(path: Path) -> str:
    """A file's name, with its frame count when it is an animated image (GIF)."""
    if path.suffix.lower() != ".gif":
        return path.name
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
    except (OSError, UnidentifiedImageError):
        return path.name
    return f"{path.name} (an animated GIF, {frames} frames)" if frames > 1 else f"{path.name} (GIF)"


def mask_label_map(masks: list[Path], n_labels: int, dims: int, ignore: int | None = None) -> dict[int, int]:
    """How stored mask values become label values 1..N, as a manifest's ``label_map``: the 2D masks' rule
    (``medseg.io.coding.code_values``) on the values the volumes hold (``{}``: they are the labels already).
    ``ignore``: the stored value of unannotated voxels (slices nobody outlined), mapped to ``VOID``."""
    counts: Counter = Counter()
    for path in masks[:SAMPLE]:
        array = voxels(read_header(path, dims), label=True)
        if array.ndim > dims and array.shape[-1] > 1:
            raise InputError("masks must hold one label value per pixel (this one has colour channels)", path)
        values, n = np.unique(array, return_counts=True)
        counts.update({int(v): int(c) for v, c in zip(values, n)})
    labels = [(f"label {i}", None) for i in range(1, n_labels + 1)]
    coding = code_values(counts, labels, min(len(masks), SAMPLE), masks[0],
                         hint="pass --label-map VALUE=1,...", ignore=ignore).coding
    return coding.label_map(sorted(counts))


def _metadata(name: str, labels: list[str], dims: int, channels: int, source: str,
              values: list[int] | None = None, void: int | None = None) -> dict[str, Any]:
    """The bundle's metadata; ``values``: the labels' values when every pixel is one of them (no background
    channel; the written masks keep the values the training masks used), else 1..N after a background."""
    import monai
    import torch

    background = values is None
    values = values if values is not None else list(range(1, len(labels) + 1))
    outputs = ["background"] * background + labels

    spatial = ["8*n"] * dims
    channel_def = {"0": "red", "1": "green", "2": "blue"} if channels == 3 else {
        str(i): f"channel {i}" for i in range(channels)}
    return {
        "schema": METADATA_SCHEMA_URL,
        "version": "0.1.0",
        "changelog": {"0.1.0": f"created by medseg bundle new from {source}"},
        "monai_version": monai.__version__,
        "pytorch_version": torch.__version__.split("+")[0],
        "numpy_version": np.__version__,
        "required_packages_version": {"nibabel": _version("nibabel"), "pillow": _version("pillow")},
        "name": name,
        "task": f"{name}: segmentation of {', '.join(labels)}",
        "description": f"A {dims}D MONAI U-Net segmenting {', '.join(labels)} (one label per pixel, softmax).",
        "authors": "medseg bundle new",
        "copyright": "Copyright (c) the bundle's authors",
        "license": "Apache-2.0 (configs); trained weights follow the training data's licence",
        "intended_use": "Research only. Not for clinical diagnosis or treatment decisions.",
        "data_source": source,
        "data_type": "png" if dims == 2 else "nibabel",
        "image_classes": f"{channels} channel(s): {', '.join(channel_def.values())}",
        "label_classes": ", ".join(f"{v} {n}" for v, n in zip(values, labels))
        + (" (0 background)" if background else "") + (f" ({void} void: not annotated)" if void is not None else ""),
        "pred_classes": "softmax channels: " + ", ".join(outputs),
        "network_data_format": {
            "inputs": {"image": {
                "type": "image", "format": "RGB" if channels == 3 else "magnitude", "modality": "n/a",
                "num_channels": channels, "spatial_shape": spatial, "dtype": "float32", "value_range": [],
                "is_patch_data": dims == 3, "channel_def": channel_def}},
            "outputs": {"pred": {
                "type": "image", "format": "segmentation", "modality": "n/a", "num_channels": len(outputs),
                "spatial_shape": spatial, "dtype": "float32", "value_range": [0, 1], "is_patch_data": dims == 3,
                "channel_def": {str(i): n for i, n in enumerate(outputs)}}},
        },
        "medseg": {
            "dims": dims,
            "modalities": ["image"],
            "mode": "exclusive",
            **({} if background else {"background": False}),
            **({} if void is None else {"void": void}),
            "labels": [{"name": n, "value": v, "color": list(PALETTE[i % len(PALETTE)])}
                       for i, (v, n) in enumerate(zip(values, labels))],
        },
    }


def _island_rule(cases: list, names: list[str], label_values: list[int] | None, dims: int,
                 coding: MaskCoding | None, mapping: dict[int, int]) -> dict[str, float]:
    """The smallest true piece per label in the training masks, read as training reads them."""
    values = dict(zip(names, label_values or range(1, len(names) + 1)))

    def read(mask: Path, shape: tuple[int, ...]) -> np.ndarray:
        if dims == 2:
            return read_mask(mask, coding, shape=shape)
        stored = np.rint(np.squeeze(voxels(read_header(mask, dims), label=True))).astype(np.int64)
        out = stored.copy()
        for source, target in mapping.items():
            out[stored == source] = target
        return out

    return smallest_pieces([e.images[0] for e in cases], [e.label for e in cases], values, dims, read)


def _written_text(section: dict[str, Any], dims: int) -> str:
    """How a written label map codes the labels, for the bundle's docs."""
    values = ", ".join(f"{lab['value']} = {lab['name']}" for lab in section["labels"])
    text = (f"Each pixel of a written label map holds one label value: {values}"
            + (", 0 = background" if section.get("background", True) else " (there is no background: every "
               "pixel is one of these classes)") + ".")
    if dims == 2:
        text += (" `<case>_seg.png` is an 8-bit palette PNG: its pixel values are these label values and its "
                 "palette shows each in the colour of the table above.")
    if "void" in section:
        text += (f" Unannotated pixels (void, stored as {section['void']} in training label maps) took no part in "
                 "training and are never predicted; evaluation leaves them out.")
    return text


def _describe_map(mapping: dict[int, int]) -> str:
    if not mapping:
        return "as stored (values 1..N)"
    if len(mapping) > 12:
        return "8-bit masks thresholded at 128 (0–127 → 0, 128–255 → 1)"
    return ", ".join(f"{k} → {v}" for k, v in mapping.items())


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "n/a"


@dataclass
class NewBundle:
    """What ``bundle new`` wrote and decided (``lines`` are printed: the mask coding and the plan)."""

    root: Path
    lines: list[str]


def _label_specs(labels: Sequence[str | tuple[str, LabelSpec]]) -> list[tuple[str, LabelSpec]]:
    specs = [item if isinstance(item, tuple) else (item, None) for item in labels]
    specs = [(name.strip(), spec) for name, spec in specs if name.strip()]
    names = [name for name, _ in specs]
    if not specs or len(set(names)) != len(names):
        raise BundleError("--labels needs distinct names, e.g. --labels road,car,sidewalk")
    return specs


def new_bundle(
    name: str,
    images: str | Path,
    masks: str | Path,
    labels: Sequence[str | tuple[str, LabelSpec]],
    dims: int | None = None,
    output: str | Path | None = None,
    image_size: int | None = None,
    label_map: dict[int, int] | None = None,
    ignore: int | None = None,
) -> NewBundle:
    """Write bundle ``name`` (default ``./my_bundles/name``, apart from the data) for the pairs in
    ``images``/``masks``, planned from the data.

    ``labels`` are names, or ``(name, value)`` / ``(name, (r, g, b))`` for how the masks store them
    (see ``medseg.io.coding.parse_labels``). 2D bundles work at native resolution unless
    ``image_size`` asks for a resize. ``ignore``: the stored value of unannotated pixels (CamVid's 11,
    Cityscapes' 255, a volume's unoutlined slices): void, out of the loss and every metric, never predicted.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", name):
        raise BundleError(f"bundle name {name!r}: use letters, digits, '_' or '-', starting with a letter")
    specs = _label_specs(labels)
    if image_size is not None and image_size < MIN_VOXELS:
        raise InputError(f"--image-size {image_size}: at least {MIN_VOXELS} pixels per side are needed to segment")
    names = [n for n, _ in specs]
    images, masks = Path(images), Path(masks)
    root = Path(output) if output else USER_BUNDLES / name
    if (root / "configs" / "metadata.json").exists():
        raise OutputError(f"bundle '{name}' already exists here; choose another name, or another folder with "
                          "--output", root)
    imported = pair_folders(images, masks)
    if not imported.cases:
        raise InputError("no image has a mask of the same name", masks)
    dims, channels = _inspect(imported.cases[0].images[0], dims)
    for entry in [*imported.cases, *imported.test]:
        _check_image(entry.images[0], dims)
    _say_what_is_left_out(images, masks, imported)
    lines: list[str] = []
    coding = None
    label_values = None  # the labels' values when there is no background (as the masks store them)
    if label_map is not None and ignore is not None:
        label_map = {**label_map, ignore: VOID}
    if dims == 2:
        if label_map is not None:
            coding = MaskCoding(values=dict(label_map))
            lines.append(f"coding: as given by --label-map ({_describe_map(label_map)})")
        else:
            inferred = infer_coding([e.label for e in imported.cases], specs, ignore)
            coding, label_values = inferred.coding, inferred.values
            lines += inferred.lines
        plan = plan_2d(fingerprint([e.images[0] for e in imported.cases], [e.label for e in imported.cases],
                                   coding), names, image_size)
        lines += plan.lines()
        mapping: dict[int, int] = {}
    else:
        if any(spec is not None for _, spec in specs):
            raise InputError("NAME=VALUE labels are for 2D masks; use --label-map VALUE=LABEL for volumes", masks)
        mapping = label_map if label_map is not None else mask_label_map(
            [e.label for e in imported.cases], len(names), dims, ignore)
        lines.append(f"coding: {_describe_map(mapping)}")
        if ignore is not None:
            lines.insert(-1, f"void: {ignore} → not annotated (unoutlined voxels): no loss, no metric, never predicted")
        plan = None
        intensity = volume_intensity([e.images[0] for e in imported.cases], [e.label for e in imported.cases],
                                     ignore)
        lines.append(describe_intensity(intensity))

    pieces = _island_rule(imported.cases, names, label_values, dims, coding, mapping)
    unit = " mm³" if dims == 3 else " mm² (px² without a pixel size)"
    lines.append("islands: pieces below half the smallest training piece are removed: "
                 + (", ".join(f"{n} < {v:g}" for n, v in pieces.items()) or "none") + unit)

    kind = "planar" if dims == 2 else "volume"
    metadata = _metadata(name, names, dims, channels, str(images), label_values, None if ignore is None else VOID)
    values = {"name": name, "in_channels": channels, "out_channels": len(names) + (label_values is None),
              "min_piece": json.dumps(pieces)}
    if plan is None:
        values["intensity"] = json.dumps(intensity)
    else:
        values.update(image_size=json.dumps(plan.resize), patch_size=json.dumps(plan.patch_size),
                      image_type=plan.image_type, sw_overlap=plan.sw_overlap, epochs=plan.epochs,
                      batch_size=plan.batch_size, samples_per_case=plan.samples_per_case,
                      learning_rate=plan.learning_rate, val_interval=plan.val_interval,
                      validation_fraction=plan.validation_fraction,
                      flip_axes=json.dumps(plan.flip_axes), rotate=round(plan.rotate, 4), scale=plan.scale,
                      elastic=json.dumps(plan.elastic), colour_jitter=json.dumps(plan.colour_jitter))
    metadata["medseg"]["lateral_labels"] = has_handedness(names)  # mirrors must not swap sided labels
    if plan is not None:
        metadata["medseg"]["plan"] = plan.to_json()
        metadata["medseg"]["mask_coding"] = coding.to_json()
    dims_text = f"{dims}D" + ((", resized to " + "×".join(map(str, plan.resize)) if plan.resize
                               else ", native resolution") if plan is not None else "")
    files = {
        "configs/metadata.json": json.dumps(metadata, indent=2) + "\n",
        "configs/inference.json": _fill(f"{kind}/inference.json.tmpl", **values),
        "configs/train.json": _fill(f"{kind}/train.json.tmpl", **values),
        "docs/README.md": _fill(
            "README.md.tmpl", **values, task=metadata["task"], date=time.strftime("%Y-%m-%d"), images=images,
            masks=masks, n_cases=len(imported.cases), dims_text=dims_text,
            label_rows="\n".join(f"| {lab['value']} | {lab['name']} | {tuple(lab['color'])} |"
                                 for lab in metadata["medseg"]["labels"]),
            label_map_text="; ".join(line for line in lines if line.startswith("coding:")).removeprefix("coding: "),
            written_text=_written_text(metadata["medseg"], dims),
            output_text="`<case>_seg.png` for images, `<case>_seg.nii.gz` for NIfTI" if dims == 2
            else "`<case>_seg.nii.gz` on the input's exact grid")
        + ("\n## Plan\n\n" + "\n".join(f"- {line}" for line in lines if not line.startswith("coding:")) + "\n"
           if plan is not None else ""),
        "LICENSE": "The configuration files of this bundle are under the Apache License 2.0.\n"
                   "Trained weights follow the licence and terms of the data they were trained on.\n",
    }
    for relative, text in files.items():
        write_text_atomic(root / relative, text)
    bundle = Bundle(root.resolve())
    verify_bundle(bundle)
    data_root = Path(os.path.commonpath([os.path.abspath(images), os.path.abspath(masks)]))
    write_imported(imported, bundle, root / "dataset.json", data_root, label_map=mapping,
                   mask_coding=coding.to_json() if coding is not None else None)
    seal(root)  # medseg wrote these configs from its own templates, so they run without --trust
    if dims == 3:  # spacing, patch, network and schedule: the planner, which medseg train runs too
        lines += ["plan (medseg train plans again on the device it runs on; --no-plan keeps the template):",
                  *plan_for_bundle(bundle, root / "dataset.json", "auto").table().splitlines()]
    return NewBundle(root, lines)
