"""Score label maps against ground truth, per label and per region (e.g. BraTS WT/TC/ET).

Per structure: Dice, surface Dice (at a tolerance in mm), HD95 in mm, sensitivity and precision
(``medseg.metrics``, MONAI underneath, spacing from the NIfTI header). Empty-vs-empty rules are
stated in ``medseg.metrics``: a structure absent from both prediction and truth scores Dice 1.0;
absent from one only, 0.0.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medseg.data.manifest import load_manifest
from medseg.errors import InputError
from medseg.io.atomic import ensure_not_input, write_text_atomic
from medseg.io.read import AFFINE_TOLERANCE, case_id_from_path, is_nifti, load_nifti_header
from medseg.io.validate import check_voxels, read_voxels
from medseg.labels import LabelSchema
from medseg.metrics import EMPTY_RULES, METRICS, dice, structure_metrics, summarise

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
    """Every metric for every structure: ``<name>`` is Dice, ``<name>/<metric>`` the others."""
    row: dict[str, float] = {}
    for name, values in _structures(schema):
        scores = structure_metrics(np.isin(pred, values), np.isin(truth, values), spacing, tolerance_mm)
        row[name] = scores["dice"]
        row.update({f"{name}/{metric}": scores[metric] for metric in METRICS[1:]})
    return row


def _read_label(path: Path, schema: LabelSchema, label_map: dict[int, int] | None = None):
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
    return image, data


def _truth_files(truth: Path, schema_modalities: list[str]) -> tuple[dict[str, Path], bool]:
    """Truth labels by case id, and whether every one of them must be predicted."""
    if truth.is_file() and truth.suffix == ".json":
        manifest = load_manifest(truth, modalities=schema_modalities)
        return {c.case_id: c.label for c in manifest.all_cases() if c.label is not None}, False
    if truth.is_dir():
        files = [p for p in sorted(truth.rglob("*")) if is_nifti(p) and not p.name.startswith(".")]
        labelled = [p for p in files if any(tag in p.name.lower() for tag in ("_seg.", "_label."))]
        return {case_id_from_path(p): p for p in (labelled or files)}, True
    raise InputError("truth must be a folder of label files or a manifest (.json)", truth)


def pair_predictions(pred_dir: Path, truth: Path, modalities: list[str] = ()) -> list[tuple[str, Path, Path]]:
    """Pair ``<case>_seg.nii.gz`` predictions with truths by case id; unpaired files are errors."""
    if not pred_dir.is_dir():
        raise InputError("prediction folder not found", pred_dir)
    files = [p for p in sorted(pred_dir.iterdir()) if is_nifti(p) and not p.name.startswith(".")]
    labelled = [p for p in files if any(tag in p.name.lower() for tag in ("_seg.", "_label."))]
    preds = {case_id_from_path(p): p for p in (labelled or files)}  # not <case>_probabilities.nii.gz
    if not preds:
        raise InputError("no predicted label files (*.nii.gz) found", pred_dir)
    truths, need_all = _truth_files(truth, list(modalities))
    missing_truth = sorted(set(preds) - set(truths))
    if missing_truth:
        raise InputError(f"no ground truth for predicted case(s) {missing_truth}", truth)
    missing_pred = sorted(set(truths) - set(preds))
    if need_all and missing_pred:
        raise InputError(f"no prediction for ground-truth case(s) {missing_pred}", pred_dir)
    return [(case, preds[case], truths[case]) for case in sorted(preds)]


@dataclass
class Evaluation:
    """Per-case scores and their summaries (mean, std, median per structure and metric)."""

    rows: list[dict[str, float | str]]
    structures: list[str]
    inputs: list[Path] = field(default_factory=list)  # every file read, so no output overwrites one
    tolerance_mm: float = 2.0

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
                        "surface_dice_tolerance_mm": self.tolerance_mm, "empty_rules": EMPTY_RULES,
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

    def table(self) -> str:
        """A plain-text summary table for the terminal: mean ± std (median) per metric."""
        width = max(len(s) for s in self.structures) + 2
        header = "".join(f"{metric:>26}" for metric in METRICS)
        lines = [f"{'structure':<{width}}{header}   (n={len(self.rows)} cases)"]
        for name, metrics in self.metric_summary().items():
            cells = "".join(f"{_cell(stats):>26}" for stats in metrics.values())
            lines.append(f"{name:<{width}}{cells}")
        lines.append(f"mean ± std (median); surface Dice at {self.tolerance_mm:g} mm; HD95 in mm.")
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


def _sequences(pred_dir: Path, case: str) -> dict[str, str]:
    """The input sequences a case was segmented from (``sequences`` column), as inference recorded
    them in ``<case>_measurements.json``; nothing when it did not."""
    import json

    path = pred_dir / f"{case}_measurements.json"
    try:
        sequences = json.loads(path.read_text()).get("sequences") if path.is_file() else None
    except (OSError, ValueError):
        sequences = None
    return {"sequences": "+".join(sequences)} if sequences else {}


def evaluate_predictions(
    pred_dir: str | Path, truth: str | Path, schema: LabelSchema, modalities: list[str] = (),
    tolerance_mm: float = 2.0,
) -> Evaluation:
    """Score every prediction in ``pred_dir`` against its ground truth (folder or manifest)."""
    rows: list[dict[str, float | str]] = []
    label_map = {}
    if Path(truth).suffix == ".json":
        label_map = load_manifest(truth, modalities=list(modalities)).label_map
    pairs = pair_predictions(Path(pred_dir), Path(truth), modalities)
    for case, pred_path, truth_path in pairs:
        pred_image, pred = _read_label(pred_path, schema)
        truth_image, truth_data = _read_label(truth_path, schema, label_map)
        pred, truth_data = np.squeeze(pred), np.squeeze(truth_data)
        if pred.shape != truth_data.shape:
            raise InputError(f"prediction shape {pred.shape} differs from truth {truth_data.shape}", pred_path)
        if not np.allclose(pred_image.affine, truth_image.affine, atol=AFFINE_TOLERANCE):
            raise InputError("prediction affine differs from the truth's (not on the same grid)", pred_path)
        spacing = _spacing(truth_image, truth_data.shape)
        rows.append({"case": case, **_sequences(pred_path.parent, case),
                     **case_metrics(pred, truth_data, schema, spacing, tolerance_mm)})
    inputs = [p for _, pred_path, truth_path in pairs for p in (pred_path, truth_path)]
    return Evaluation(rows, [name for name, _ in _structures(schema)],
                      [*inputs, *([Path(truth)] if Path(truth).is_file() else [])], tolerance_mm)
