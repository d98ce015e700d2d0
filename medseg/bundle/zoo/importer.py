"""``import_zoo``: a MONAI Model Zoo bundle → a medseg bundle that ``medseg infer`` runs with its own pipeline.

The zoo bundle is untrusted code: its configs are read as JSON and never run. What the written
bundle runs is medseg's predictor, the zoo's network class from ``monai.networks.nets`` with the
zoo's literal arguments, and the zoo's declared preprocessing steps (``medseg.bundle.zoo.translate``).
medseg wrote those configs itself, so it seals them (``medseg.bundle.trust``); the zoo's other ``$``
expressions and components are listed for the user and not imported. The zoo's metadata is copied
only when it is plain data (MONAI reads it too, through ``@_meta_`` references), and no file is read
through a link leading out of the zoo folder.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medseg.bundle.find import Bundle, monai_logs_quiet
from medseg.bundle.trust import find_code, seal
from medseg.bundle.zoo import tasks, translate
from medseg.bundle.zoo.configs import Expression, ZooConfig
from medseg.bundle.zoo.network import ChannelMapped
from medseg.errors import BundleError, OutputError
from medseg.runtime.checkpoint import load_weights, save_checkpoint

EXTRAS = (("docs/README.md", "docs/zoo_README.md"), ("docs/license.txt", "LICENSE"), ("LICENSE", "LICENSE"))
WRITERS = ("medseg.outputs.nifti.NiftiLabelWriter", "medseg.outputs.slicer.SlicerSegWriter",
           "medseg.outputs.slicer.ColorTableWriter", "medseg.outputs.measurements.MeasurementWriter",
           "medseg.outputs.dicom_seg.DicomSegWriter")


@dataclass
class ImportResult:
    """The written bundle, what it runs from the zoo, what it left out, and what was guessed."""

    root: Path
    name: str
    mapping: tasks.Mapping
    imported: list[str] = field(default_factory=list)
    not_run: list[Expression] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def download(name: str, version: str | None, workdir: Path) -> Path:
    """Fetch a zoo bundle with MONAI's own ``monai.bundle.download`` (needs internet)."""
    from monai.bundle import download as monai_download

    try:
        with monai_logs_quiet():
            monai_download(name=name, version=version, bundle_dir=str(workdir), progress=False)
    except Exception as exc:  # network errors, unknown names and versions come in many types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"cannot download zoo bundle through monai.bundle.download ({reason})", name) from exc
    root = workdir / name
    if not (root / "configs").is_dir():
        raise BundleError("monai.bundle.download left no configs folder", root)
    return root


def import_zoo(source: str | Path, output: str | Path, version: str | None = None) -> ImportResult:
    """Import a zoo bundle (an unpacked folder, or a name to download) into the medseg bundle ``output``."""
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise OutputError("output already exists and is not an empty folder; choose another --output", output)
    folder = Path(source)
    if folder.is_dir():
        return _import_folder(folder, output, version, str(folder.resolve()))
    if "/" in str(source) or str(source).startswith("."):
        raise BundleError("zoo bundle folder not found", source)
    with tempfile.TemporaryDirectory(prefix="medseg-zoo-") as workdir:
        root = download(str(source), version, Path(workdir))
        return _import_folder(root, output, version, f"monai.bundle.download(name={str(source)!r}, "
                                                     f"version={version!r})")


def _import_folder(folder: Path, output: Path, version: str | None, origin: str) -> ImportResult:
    zoo = ZooConfig(folder)
    _check_data(zoo.metadata, zoo.root / "configs" / "metadata.json")
    zoo_version = str(zoo.metadata.get("version", ""))
    if version is not None and zoo_version != version:
        raise BundleError(f"the zoo bundle is version {zoo_version or 'unknown'}, not {version}",
                          folder / "configs" / "metadata.json")
    if not zoo.weights.is_file():
        raise BundleError("the zoo bundle has no models/model.pt (import it by name to download the weights, "
                          "or put the zoo's weights there)", folder)
    network = translate.network_def(zoo)
    pre, post = translate.preprocessing(zoo), translate.postprocessing(zoo)
    mapping = _mapping(zoo, folder, post.mode)
    name = tasks.find_task(folder.name, str(zoo.metadata.get("name", ""))) or folder.name
    model = translate.build_network(network)
    load_weights(model, zoo.weights)  # weights_only; a mismatch names the file
    if not mapping.identity:
        network = {"_target_": "medseg.bundle.zoo.network.ChannelMapped", "network": network,
                   "input_order": mapping.input_order, "output_order": mapping.output_order}
        model = ChannelMapped(model, mapping.input_order, mapping.output_order)
    roi, overlap, sw_batch = translate.inferer(zoo)
    schema_names = {lab["value"]: lab["name"] for lab in mapping.schema["labels"]}
    largest = [schema_names[v] for v in post.largest_labels if v in schema_names]
    config = _inference_config(name, network, pre.steps, mapping.axcodes, roi, overlap, sw_batch, post.threshold,
                               largest)
    metadata = _metadata(zoo, name, mapping, origin)
    _check_data(metadata, zoo.root, "the metadata medseg would write: ")  # the folder name and all taken, again
    extras = [(zoo.file(extra), target) for extra, target in EXTRAS if (zoo.root / extra).is_file()]
    result = ImportResult(output, name, mapping, notes=list(mapping.notes))
    result.imported = _imported_lines(network, pre, post, mapping)
    used = {"network_def"} | {f"preprocessing#transforms#{i}" for i, _ in enumerate(zoo.transforms("preprocessing"))}
    result.not_run = [e for e in zoo.expressions() if not (e.file == "inference.json" and e.key in used)]

    tmp = output.parent / f".tmp-{uuid.uuid4().hex[:8]}-{output.name}"
    try:
        _write_text(tmp / "configs" / "inference.json", json.dumps(config, indent=2) + "\n")
        _write_text(tmp / "configs" / "metadata.json", json.dumps(metadata, indent=2) + "\n")
        save_checkpoint(model.state_dict(), tmp / Bundle.WEIGHTS)
        _write_text(tmp / "docs" / "README.md", _readme(zoo, name, origin, result))
        for source, target in extras:
            shutil.copyfile(source, tmp / target)
        seal(tmp)  # medseg wrote every config here (see the module docstring)
        if output.exists():
            output.rmdir()
        tmp.rename(output)
    except OSError as exc:
        raise OutputError(f"cannot write the bundle ({exc.strerror or exc}); nothing was written", output) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.root = output.resolve()
    return result


def _check_data(metadata: dict[str, Any], path: Path, what: str = "") -> None:
    """Refuse metadata MONAI would evaluate (the imported bundle's configs read it through ``@_meta_``)."""
    found = find_code(metadata)
    if found:
        raise BundleError(f"{what}{found[0]!r} {found[1]}; medseg imports metadata as plain data only", path)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _mapping(zoo: ZooConfig, folder: Path, mode: str | None) -> tasks.Mapping:
    inputs, outputs = zoo.channel_names("inputs"), zoo.channel_names("outputs")
    meta_file = folder / "configs" / "metadata.json"
    key = tasks.find_task(folder.name, str(zoo.metadata.get("name", "")))
    if key is not None:
        mapping = tasks.known_mapping(key, inputs, outputs, meta_file)
        if mode is not None and mode != mapping.schema["mode"]:
            raise BundleError(f"the zoo's post-processing makes {mode} labels, medseg's table says "
                              f"{mapping.schema['mode']}", folder / "configs" / "inference.json")
        return mapping
    if mode is None:
        raise BundleError("not in medseg's zoo table, and its post-processing declares neither sigmoid nor "
                          "softmax/argmax: cannot tell how its outputs become labels", folder / "configs")
    return tasks.guessed_mapping(inputs, outputs, mode, meta_file)


def _inference_config(name: str, network: dict[str, Any], steps: list[dict[str, Any]], axcodes: str | None,
                      roi: list[int], overlap: float, sw_batch: int, threshold: float,
                      largest: list[str]) -> dict[str, Any]:
    """medseg's predictor around the zoo network (the same shape as a shipped bundle's inference.json)."""
    writers: list[dict[str, Any]] = [{"_target_": target} for target in WRITERS]
    writers[2]["name"] = name
    writers[4].update(algorithm="@_meta_#name", version="@_meta_#version")
    return {
        "imports": ["$import medseg"],
        "bundle_root": ".",
        "device": "auto",
        "roi_size": roi,
        "sw_overlap": overlap,
        "sw_batch_size": sw_batch,
        "whole_volume_voxels": math.prod(roi),  # the zoo's window covers such a volume in one pass too
        "threshold": threshold,
        "schema": {"_target_": "medseg.labels.LabelSchema.from_bundle", "bundle_root": "@bundle_root"},
        "modalities": "@_meta_#medseg#modalities",
        "network_def": network,
        "preprocessing": {"_target_": "medseg.bundle.zoo.preprocess.zoo_preprocessing", "steps": steps,
                          "axcodes": axcodes},
        "predictor": {
            "_target_": "medseg.inference.predictor.Predictor", "network": "@network_def", "schema": "@schema",
            "preprocessing": "@preprocessing", "roi_size": "@roi_size", "modalities": "@modalities",
            "overlap": "@sw_overlap", "sw_batch_size": "@sw_batch_size",
            "checkpoint": "$@bundle_root + '/models/model.pt'", "device": "@device", "threshold": "@threshold",
            "writers": "@writers", "whole_volume_voxels": "@whole_volume_voxels", "postprocessing": "@postprocessing",
            "tta": "$@tta if @use_tta else None",
        },
        "postprocessing": {"_target_": "medseg.inference.postprocessing.PostProcessing", "region_hierarchy": False,
                           "largest_component": largest, "min_island_mm3": 0},
        "use_tta": False,
        "tta": None,  # the zoo declares none; guessed flips would swap left/right labels (wholeBody_ct_segmentation)
        "writers": writers,
        "input_paths": [],
        "output_dir": "$@bundle_root + '/predictions'",
        "run": ["$@predictor.predict_to_dir(@input_paths, @output_dir)"],
    }


def _metadata(zoo: ZooConfig, name: str, mapping: tasks.Mapping, origin: str) -> dict[str, Any]:
    """The zoo's metadata, with medseg's label schema and the channel definitions in medseg's order."""
    meta = json.loads(json.dumps(zoo.metadata))
    inputs, outputs = zoo.channel_names("inputs"), zoo.channel_names("outputs")
    fmt = meta.setdefault("network_data_format", {})
    image = next(iter(fmt.setdefault("inputs", {"image": {}}).values()))
    pred = next(iter(fmt.setdefault("outputs", {"pred": {}}).values()))
    by_medseg = {medseg_i: zoo_j for zoo_j, medseg_i in enumerate(mapping.input_order)}
    image["channel_def"] = {str(i): inputs[by_medseg[i]] for i in range(len(inputs))}
    pred["channel_def"] = {str(i): outputs[j] for i, j in enumerate(mapping.output_order)}
    pred.setdefault("modality", "n/a")  # required by MONAI's metadata schema; some zoo bundles leave it out
    meta["zoo_name"] = meta.get("name", name)
    meta["name"] = name
    meta["medseg"] = {"dims": 3, "modalities": mapping.modalities, **mapping.schema}
    meta["zoo"] = {"bundle": name, "version": meta.get("version"), "source": origin,
                   "input_order": mapping.input_order, "output_order": mapping.output_order,
                   "axcodes": mapping.axcodes, "notes": mapping.notes}
    return meta


def _imported_lines(network: dict[str, Any], pre: translate.Preprocessing, post: translate.Postprocessing,
                    mapping: tasks.Mapping) -> list[str]:
    inner = network.get("network", network)
    lines = [f"network_def: {inner['_target_']} with the zoo's arguments"]
    if network is not inner:
        lines.append(f"  behind medseg.bundle.zoo.network.ChannelMapped(input_order={mapping.input_order}, "
                     f"output_order={mapping.output_order})")
    lines += [f"preprocessing: {step['_target_']}" for step in pre.steps]
    if mapping.axcodes and not any(s["_target_"].endswith("Orientationd") for s in pre.steps):
        lines.append(f"preprocessing: orientation {mapping.axcodes} (medseg's table: the zoo's training data)")
    lines.append(f"post-processing: {mapping.schema['mode']} labels, threshold {post.threshold:g}"
                 + (f", largest component of labels {post.largest_labels}" if post.largest_labels else ""))
    replaced = pre.replaced + post.replaced
    if replaced:
        lines.append(f"replaced by medseg's loading, inversion, labels and writers: {', '.join(replaced)}")
    return lines


def _channel_lines(zoo: ZooConfig, mapping: tasks.Mapping) -> list[str]:
    """Which medseg modality feeds each zoo input, and which label each zoo output becomes."""
    inputs, outputs = zoo.channel_names("inputs"), zoo.channel_names("outputs")
    lines = [f"- zoo input {j} ({name}) <- medseg modality `{mapping.modalities[mapping.input_order[j]]}`"
             for j, name in enumerate(inputs)]
    if mapping.schema["mode"] == "overlapping":
        for i, zoo_j in enumerate(mapping.output_order):
            channel = mapping.schema["channels"][i]
            lines.append(f"- zoo output {zoo_j} ({outputs[zoo_j]}) -> region {channel['name']} (labels "
                         f"{channel['values']}, painted as {channel['paint']})")
    else:
        lines += [f"- zoo output {lab['value']} ({outputs[lab['value']]}) -> label {lab['value']} {lab['name']}"
                  for lab in mapping.schema["labels"]]
    return lines


def _readme(zoo: ZooConfig, name: str, origin: str, result: ImportResult) -> str:
    meta = zoo.metadata
    metrics = meta.get("eval_metrics", {})
    lines = [
        f"# {name} (MONAI Model Zoo, imported by medseg)", "",
        f"{meta.get('description', '')}", "",
        f"- Zoo bundle: {meta.get('name', name)}, version {meta.get('version', 'unknown')}; source: {origin}",
        f"- Authors: {meta.get('authors', 'unknown')}; {meta.get('copyright', '')}",
        f"- Intended use (the zoo's words): {meta.get('intended_use', 'not stated')}",
        "- Accuracy **as the zoo reports it** (metadata `eval_metrics`, not measured by medseg): "
        + (", ".join(f"{k} {v}" for k, v in metrics.items()) or "none reported"),
        "", "## Channels", "", *_channel_lines(zoo, result.mapping),
        "", "## What medseg imported", "", *[f"- {line.strip()}" for line in result.imported],
        *([""] + [f"- note: {note}" for note in result.notes] if result.notes else []),
        "", "## The zoo's code that medseg does not run", "",
        "Every `$` expression and `_target_` component of the zoo's configs other than the above:", "",
        *[f"- `{e.line()}`" for e in result.not_run], "",
    ]
    return "\n".join(lines)
