"""Score label maps against ground truth: Dice per label and per region (e.g. BraTS WT/TC/ET).

Empty-vs-empty convention (as in the BraTS challenge): when a structure is absent from both the
prediction and the truth, its Dice is 1.0; absent from one only, 0.0.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medseg.errors import InputError
from medseg.io.read import AFFINE_TOLERANCE, case_id_from_path, is_nifti, load_nifti_header
from medseg.labels import LabelSchema


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks; 1.0 when both are empty."""
    total = int(pred.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, truth).sum()) / total


def score_case(pred: np.ndarray, truth: np.ndarray, schema: LabelSchema) -> dict[str, float]:
    """Dice for every label value and every region the schema declares."""
    scores = {label.name: dice(pred == label.value, truth == label.value) for label in schema.labels}
    for region in schema.regions:
        scores[region.name] = dice(np.isin(pred, region.values), np.isin(truth, region.values))
    return scores


def _read_label(path: Path, schema: LabelSchema, label_map: dict[int, int] | None = None):
    image = load_nifti_header(path)
    data = np.asarray(image.dataobj)
    if not np.all(np.isfinite(data)):
        raise InputError("label contains NaN or Inf", path)
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
        from medseg.data.manifest import load_manifest

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
    preds = {case_id_from_path(p): p for p in sorted(pred_dir.iterdir()) if is_nifti(p) and not p.name.startswith(".")}
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
    """Per-case scores and their summary (mean, std, median per structure)."""

    rows: list[dict[str, float | str]]
    structures: list[str]

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in self.structures:
            values = np.array([float(r[name]) for r in self.rows])
            out[name] = {
                "mean": float(values.mean()), "std": float(values.std()), "median": float(np.median(values)),
            }
        return out

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["case", *self.structures])
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
        return buffer.getvalue()

    def table(self) -> str:
        """A plain-text summary table for the terminal."""
        width = max(len(s) for s in self.structures) + 2
        lines = [f"{'structure':<{width}}  mean    std     median  (n={len(self.rows)} cases)"]
        for name, stats in self.summary().items():
            lines.append(f"{name:<{width}}  {stats['mean']:.4f}  {stats['std']:.4f}  {stats['median']:.4f}")
        lines.append("Dice; a structure absent from both prediction and truth scores 1.0.")
        return "\n".join(lines)


def evaluate_predictions(
    pred_dir: str | Path, truth: str | Path, schema: LabelSchema, modalities: list[str] = ()
) -> Evaluation:
    """Score every prediction in ``pred_dir`` against its ground truth (folder or manifest)."""
    rows: list[dict[str, float | str]] = []
    label_map = {}
    if Path(truth).suffix == ".json":
        from medseg.data.manifest import load_manifest

        label_map = load_manifest(truth, modalities=list(modalities)).label_map
    for case, pred_path, truth_path in pair_predictions(Path(pred_dir), Path(truth), modalities):
        pred_image, pred = _read_label(pred_path, schema)
        truth_image, truth_data = _read_label(truth_path, schema, label_map)
        pred, truth_data = np.squeeze(pred), np.squeeze(truth_data)
        if pred.shape != truth_data.shape:
            raise InputError(f"prediction shape {pred.shape} differs from truth {truth_data.shape}", pred_path)
        if not np.allclose(pred_image.affine, truth_image.affine, atol=AFFINE_TOLERANCE):
            raise InputError("prediction affine differs from the truth's (not on the same grid)", pred_path)
        rows.append({"case": case, **score_case(pred, truth_data, schema)})
    structures = [label.name for label in schema.labels] + [region.name for region in schema.regions]
    return Evaluation(rows, structures)
