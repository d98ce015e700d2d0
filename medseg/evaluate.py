"""Score label maps against ground truth, per label and per region (e.g. BraTS WT/TC/ET).

Per structure: Dice, surface Dice (at a tolerance in mm), HD95 in mm, sensitivity and precision
(``medseg.metrics``, MONAI underneath, spacing from the NIfTI header). Empty-vs-empty rules are
stated in ``medseg.metrics``: a structure absent from both prediction and truth scores Dice 1.0;
absent from one only, 0.0.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medseg.bundle.find import Bundle
from medseg.data.manifest import load_manifest
from medseg.errors import InputError, warn
from medseg.io.atomic import ensure_not_input, write_text_atomic
from medseg.io.caseid import check_case_id, check_unique_ids
from medseg.io.masks import MaskCoding, is_bitmap, read_mask, read_structure_masks, resize_nearest
from medseg.io.read import AFFINE_TOLERANCE, case_id_from_path, is_nifti, load_nifti_header
from medseg.io.validate import check_voxels, read_voxels
from medseg.labels import LabelSchema
from medseg.metrics import EMPTY_RULES, METRICS, dice, structure_metrics, summarise, union_box

__all__ = ["dice", "score_case", "case_metrics", "evaluate_predictions", "Evaluation"]


def score_case(pred: np.ndarray, truth: np.ndarray, schema: LabelSchema) -> dict[str, float]:
    """Dice for every label value and every region the schema declares."""
    scores = {label.name: dice(pred == label.value, truth == label.value) for label in schema.labels}
    for region in schema.regions:
        scores[region.name] = dice(np.isin(pred, region.values), np.isin(truth, region.values))
    return scores


def _structures(schema: LabelSchema) -> list[tuple[str, tuple[int, ...]]]:
    return [(label.name, (label.value,)) for label in schema.labels] + [(r.name, r.values) for r in schema.regions]


def case_metrics(
    pred: np.ndarray, truth: np.ndarray, schema: LabelSchema, spacing: tuple[float, ...], tolerance_mm: float = 2.0
) -> dict[str, float]:
    """Every metric for every structure: ``<name>`` is Dice, ``<name>/<metric>`` the others.

    Everything is computed inside the bounding box of both maps' structures (``union_box``), where
    the metrics equal the whole grid's: a tumour fills a few percent of a brain volume.
    """
    box = union_box(pred, truth)
    pred, truth = pred[box], truth[box]
    row: dict[str, float] = {}
    for name, values in _structures(schema):
        scores = structure_metrics(np.isin(pred, values), np.isin(truth, values), spacing, tolerance_mm)
        row[name] = scores["dice"]
        row.update({f"{name}/{metric}": scores[metric] for metric in METRICS[1:]})
    return row


@dataclass
class Side:
    """One side (prediction or truth) of a case: its label map, its per-channel masks when stored
    apart (overlapping structures), and its grid (``None`` for a bitmap, which has no header)."""

    label: np.ndarray
    channels: np.ndarray | None = None
    image: object | None = None  # nibabel image

    def crop(self, box: tuple[slice, ...]) -> Side:
        """The same side inside ``box`` (of the label's axes), for metrics that do not change there."""
        channels = None if self.channels is None else self.channels[(slice(None), *box)]
        return Side(self.label[box], channels, self.image)

    def structure(self, schema: LabelSchema, name: str, values: tuple[int, ...]) -> np.ndarray:
        names = schema.channel_names
        if self.channels is not None and schema.mode == "overlapping" and name in names:
            return self.channels[names.index(name)]
        return np.isin(self.label, values)


def read_label(path: Path, schema: LabelSchema, label_map: dict[int, int] | None = None,
                coding: MaskCoding | None = None) -> Side:
    """A truth or predicted label file: NIfTI as stored (then ``label_map``), a bitmap through its mask coding.

    The one reader for label files that are scored (``evaluate``, ``postchoice``); values are checked
    against ``schema``.
    """
    if is_bitmap(path):
        data = read_mask(path, coding if coding is not None else MaskCoding(values=dict(label_map or {})))
        schema.check_label_values(data, path)
        return Side(data)
    image = load_nifti_header(path)
    data = read_voxels(path)
    check_voxels(data, path, allow_blank=True, what="label")
    data = np.rint(data).astype(np.int64)
    if label_map:  # a manifest's source coding (e.g. MSD Task01) → the bundle's values, all at once
        coded = data
        data = coded.copy()
        for source, target in label_map.items():
            data[coded == source] = target
    schema.check_label_values(data, path)
    return Side(np.squeeze(data), image=image)


def _read_structures(paths: tuple[Path, ...], schema: LabelSchema) -> Side:
    """One binary mask file per overlapping channel (e.g. SCR: one PNG per structure), overlaps kept."""
    if schema.mode != "overlapping":
        raise InputError(f"{len(paths)} mask files for one case, but the bundle's labels are exclusive "
                         "(one label map per case)", paths[0])
    channels = read_structure_masks(paths, schema.channel_names)
    return Side(schema.channels_to_label_map(channels).astype(np.int64), channels)


def _structure_files(pred_path: Path, case: str, schema: LabelSchema) -> tuple[Path, ...] | None:
    """``<case>_<structure>.nii.gz`` beside an overlapping prediction (X-ray writers), when all exist."""
    if schema.mode != "overlapping":
        return None
    files = tuple(pred_path.parent / f"{case}_{name}.nii.gz" for name in schema.channel_names)
    return files if all(f.is_file() for f in files) else None


def _read_prediction(case: str, path: Path, schema: LabelSchema) -> Side:
    side = read_label(path, schema)
    structures = _structure_files(path, case, schema)
    if structures is not None:
        side.channels = np.stack([np.squeeze(read_label(p, schema).label) > 0 for p in structures])
    return side


def _is_label_file(path: Path) -> bool:
    return (is_nifti(path) or is_bitmap(path)) and not path.name.startswith(".")


def _case_id(path: Path, tags: tuple[str, ...] = ("seg", "label")) -> str:
    """``case7_seg.png`` → ``case7``; NIfTI names as ``case_id_from_path``."""
    if not is_bitmap(path):
        return case_id_from_path(path)
    stem = path.name[: path.name.rfind(".")]
    for tag in tags:
        if stem.lower().endswith(f"_{tag}") or stem.lower().endswith(f"-{tag}"):
            return check_case_id(stem[: -len(tag) - 1], path)
    return check_case_id(stem, path)


def _labelled(files: list[Path]) -> list[Path]:
    tagged = [p for p in files if any(f"{sep}{tag}." in p.name.lower() for sep in "_-" for tag in ("seg", "label"))]
    return tagged or files


def _truth_files(truth: Path, schema_modalities: list[str]) -> tuple[dict[str, Path | tuple[Path, ...]], bool]:
    """Truth labels by case id (a tuple: one mask per structure), and whether all must be predicted."""
    if truth.is_file() and truth.suffix == ".json":
        manifest = load_manifest(truth, modalities=schema_modalities)
        return {c.case_id: c.label for c in manifest.all_cases() if c.label is not None}, False
    if truth.is_dir():
        files = [p for p in sorted(truth.rglob("*")) if _is_label_file(p)]
        tagged = [p for p in files if any(f"{sep}{tag}." in p.name.lower() for sep in "_-"
                                          for tag in ("seg", "label", "mask"))]
        named = [(_case_id(p, ("seg", "label", "mask")), p) for p in tagged or files]
        check_unique_ids(named, truth)  # two folders, one id
        return dict(named), True
    raise InputError("truth must be a folder of label files or a manifest (.json)", truth)


def pair_predictions(pred_dir: Path, truth: Path, modalities: list[str] = (), cases: list[str] | None = None,
                     allow_missing: bool = False) -> list[tuple[str, Path, Path]]:
    """Pair ``<case>_seg.nii.gz`` / ``<case>_seg.png`` predictions with truths by case id; unpaired are errors.

    ``cases``: score only these ids. ``allow_missing``: skip cases that lack a prediction or a
    truth (one warning says how many) instead of refusing, e.g. to score a run still in progress.
    """
    if not pred_dir.is_dir():
        raise InputError("prediction folder not found", pred_dir)
    files = [p for p in sorted(pred_dir.iterdir()) if p.is_file() and _is_label_file(p)]
    named = [(_case_id(p), p) for p in _labelled(files)]  # not <case>_probabilities.nii.gz
    check_unique_ids(named, pred_dir)  # case.nii.gz and case.png
    preds = dict(named)
    if not preds:
        raise InputError("no predicted label files (*.nii.gz, *.png, *.tif) found", pred_dir)
    truths, need_all = _truth_files(truth, list(modalities))
    if cases is not None:
        unknown = sorted(set(cases) - set(preds) - set(truths))
        if unknown:
            raise InputError(f"--cases names case(s) {unknown} found in neither the predictions nor the truth",
                             pred_dir)
        preds = {k: v for k, v in preds.items() if k in cases}
        truths = {k: v for k, v in truths.items() if k in cases}
        need_all = True
    missing_truth = sorted(set(preds) - set(truths))
    missing_pred = sorted(set(truths) - set(preds)) if need_all else []
    if allow_missing and (missing_truth or missing_pred):
        warn(f"{len(missing_pred)} case(s) without a prediction and {len(missing_truth)} without a truth are "
             "not scored (--allow-missing)", pred_dir)
    elif missing_truth:
        raise InputError(f"no ground truth for predicted case(s) {missing_truth} (--allow-missing skips them)", truth)
    elif missing_pred:
        raise InputError(f"no prediction for ground-truth case(s) {missing_pred} (--cases or --allow-missing "
                         "scores a subset)", pred_dir)
    paired = sorted(set(preds) & set(truths))
    if not paired:
        raise InputError("no case has both a prediction and a truth", pred_dir)
    return [(case, preds[case], truths[case]) for case in paired]


@dataclass
class Evaluation:
    """Per-case scores and their summaries (mean, std, median per structure and metric)."""

    rows: list[dict[str, float | str]]
    structures: list[str]
    inputs: list[Path] = field(default_factory=list)  # every file read, so no output overwrites one
    tolerance_mm: float = 2.0
    units: str = "mm"  # of HD95 and the surface tolerance: "px" when no prediction had a header

    def summary(self) -> dict[str, dict[str, float]]:
        """Dice per structure (the headline numbers)."""
        return {name: self._stats(name) for name in self.structures}

    def metric_summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """Every metric per structure: ``{structure: {metric: {mean, std, median, n}}}``."""
        return {name: {metric: self._stats(name if metric == "dice" else f"{name}/{metric}") for metric in METRICS}
                for name in self.structures}

    def _stats(self, column: str) -> dict[str, float]:
        return summarise([float(row[column]) for row in self.rows])

    def document(self) -> dict[str, Any]:
        """The machine-readable summary (``medseg evaluate --json``); undefined metrics are ``None``."""
        return _finite({"cases": len(self.rows), "summary": self.summary(), "metrics": self.metric_summary(),
                        "surface_dice_tolerance_mm": self.tolerance_mm, "distance_units": self.units,
                        "empty_rules": EMPTY_RULES,
                        "per_case": self.rows})

    def write_csv(self, path: str | Path) -> Path:
        """The per-case CSV, written atomically; refuses to replace any file the evaluation read."""
        ensure_not_input(path, self.inputs)
        return write_text_atomic(path, self.to_csv())

    def to_csv(self) -> str:
        buffer = io.StringIO()
        columns = list(dict.fromkeys(key for row in self.rows for key in row)) or ["case"]
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
        return buffer.getvalue()

    def _by_sequences(self) -> list[str]:
        """Mean Dice per input-sequence subset (studies that lacked a sequence apart from complete ones)."""
        subsets = sorted({str(row["sequences"]) for row in self.rows if row.get("sequences")})
        lines = []
        for subset in subsets:
            rows = [row for row in self.rows if row.get("sequences") == subset]
            cells = ", ".join(f"{name} {summarise([float(r[name]) for r in rows])['mean']:.3f}"
                              for name in self.structures)
            lines.append(f"sequences {subset} (n={len(rows)}): Dice {cells}")
        return lines

    def table(self) -> str:
        """A plain-text summary table for the terminal: mean ± std (median) per metric."""
        width = max(len(s) for s in self.structures) + 2
        header = "".join(f"{metric:>26}" for metric in METRICS)
        lines = [f"{'structure':<{width}}{header}   (n={len(self.rows)} cases)"]
        for name, metrics in self.metric_summary().items():
            cells = "".join(f"{_cell(stats):>26}" for stats in metrics.values())
            lines.append(f"{name:<{width}}{cells}")
        lines += self._by_sequences()
        lines.append(f"mean ± std (median); surface Dice at {self.tolerance_mm:g} {self.units}; HD95 in {self.units}.")
        lines.append(f"Empty masks: {EMPTY_RULES}")
        return "\n".join(lines)


def _finite(value: Any) -> Any:
    """NaN (an undefined metric) becomes ``None`` (JSON null)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _cell(stats: dict[str, float]) -> str:
    if math.isnan(stats["mean"]):
        return "undefined"
    return f"{stats['mean']:.3f} ± {stats['std']:.3f} ({stats['median']:.3f})"


def _spacing(image, shape: tuple[int, ...]) -> tuple[float, ...]:
    """Voxel sizes (mm) of the axes that survive ``np.squeeze`` (a 2D X×Y×1 label keeps two)."""
    zooms = image.header.get_zooms()[: len(image.shape)]
    kept = tuple(float(z) for z, n in zip(zooms, image.shape) if n > 1)
    return kept if len(kept) == len(shape) else tuple(float(z) for z in zooms[: len(shape)])


def default_csv(pred_dir: str | Path) -> Path:
    """``predictions/`` → ``predictions_evaluation.csv`` beside it: the prediction folder holds predictions only."""
    folder = Path(pred_dir).resolve()
    return folder.parent / f"{folder.name}_evaluation.csv"


def _sequences(pred_dir: Path, case: str) -> dict[str, str]:
    """The input sequences a case was segmented from (``sequences`` column), as inference recorded
    them in ``<case>_measurements.json``; nothing when it did not."""
    path = pred_dir / f"{case}_measurements.json"
    try:
        sequences = json.loads(path.read_text()).get("sequences") if path.is_file() else None
    except (OSError, ValueError):
        sequences = None
    return {"sequences": "+".join(sequences)} if sequences else {}


def _on_grid(truth: Side, pred_shape: tuple[int, ...], truth_path: Path, pred_path: Path) -> Side:
    """A bitmap truth at another size than the prediction (SCR masks are half size), resized onto it;
    the prediction lies on its image's grid, so a truth that does not fit is the file named."""
    if truth.label.shape == pred_shape:
        return truth
    if truth.image is not None or len(pred_shape) != 2:
        raise InputError(f"truth shape {truth.label.shape} differs from the prediction's {pred_shape} "
                         f"({pred_path.name}, written on its image's grid)", truth_path)
    channels = None if truth.channels is None else np.stack([resize_nearest(c, pred_shape, truth_path)
                                                             for c in truth.channels])
    return Side(resize_nearest(truth.label, pred_shape, truth_path), channels)


def side_metrics(pred: Side, truth: Side, schema: LabelSchema, spacing: tuple[float, ...],
                 tolerance_mm: float = 2.0) -> dict[str, float]:
    """``case_metrics`` on two sides, using per-structure masks where they were stored apart.

    As there, everything is computed inside the bounding box of both sides' structures.
    """
    stored = [side.channels for side in (pred, truth) if side.channels is not None]
    box = union_box(pred.label, truth.label, *(np.any(c, axis=0) for c in stored))
    pred, truth = pred.crop(box), truth.crop(box)
    row: dict[str, float] = {}
    for name, values in _structures(schema):
        scores = structure_metrics(pred.structure(schema, name, values), truth.structure(schema, name, values),
                                   spacing, tolerance_mm)
        row[name] = scores["dice"]
        row.update({f"{name}/{metric}": scores[metric] for metric in METRICS[1:]})
    return row


def evaluate_predictions(
    pred_dir: str | Path, truth: str | Path, schema: LabelSchema | Bundle, modalities: list[str] = (),
    tolerance_mm: float = 2.0, mask_coding: MaskCoding | None = None, cases: list[str] | None = None,
    allow_missing: bool = False,
) -> Evaluation:
    """Score every prediction in ``pred_dir`` against its ground truth (folder or manifest).

    ``schema``: a bundle (``medseg.find_bundle``: its schema, modalities and mask coding) or a label
    schema. Predictions and truths may be NIfTI or PNG/JPEG/TIFF; a bitmap truth is read as training
    read it, through ``mask_coding``, else the manifest's, else the bundle's (``membrane=0``, RGB, {0,255}),
    else the manifest's ``label_map``, and resized onto the prediction's grid when stored smaller.
    Distances are in mm when the prediction has a NIfTI header (X-rays too), else in pixels.
    ``cases`` / ``allow_missing``: score a subset (see ``pair_predictions``).
    """
    stored = None  # a coding as stored in metadata or manifest (how `bundle new` found the user's masks)
    if isinstance(schema, Bundle):
        stored = schema.metadata.get("medseg", {}).get("mask_coding")
        modalities, schema = modalities or schema.modalities, schema.schema
    rows: list[dict[str, float | str]] = []
    label_map = {}
    if Path(truth).suffix == ".json":  # a manifest says how its own masks are coded
        manifest = load_manifest(truth, modalities=list(modalities))
        label_map, stored = manifest.label_map, manifest.mask_coding or stored
    if mask_coding is None and stored:
        mask_coding = MaskCoding.from_json(stored)
    pairs = pair_predictions(Path(pred_dir), Path(truth), modalities, cases, allow_missing)
    units = "mm"
    for case, pred_path, truth_path in pairs:
        pred = _read_prediction(case, pred_path, schema)
        if isinstance(truth_path, tuple):
            truth_side = _read_structures(truth_path, schema)
        else:
            coding = mask_coding if mask_coding is not None and not label_map else None
            truth_side = read_label(truth_path, schema, label_map, coding)
        truth_side = _on_grid(truth_side, pred.label.shape,
                              truth_path[0] if isinstance(truth_path, tuple) else truth_path, pred_path)
        if pred.image is not None and truth_side.image is not None and not np.allclose(
                pred.image.affine, truth_side.image.affine, atol=AFFINE_TOLERANCE):
            raise InputError("prediction affine differs from the truth's (not on the same grid)", pred_path)
        grid = truth_side.image if truth_side.image is not None else pred.image
        if grid is None:
            spacing, units = (1.0,) * pred.label.ndim, "px"
        else:
            spacing = _spacing(grid, pred.label.shape)
        rows.append({"case": case, **_sequences(pred_path.parent, case),
                     **side_metrics(pred, truth_side, schema, spacing, tolerance_mm)})
    inputs = [p for _, pred_path, truth_path in pairs
              for p in (pred_path, *(truth_path if isinstance(truth_path, tuple) else (truth_path,)))]
    return Evaluation(rows, [name for name, _ in _structures(schema)],
                      [*inputs, *([Path(truth)] if Path(truth).is_file() else [])], tolerance_mm, units)
