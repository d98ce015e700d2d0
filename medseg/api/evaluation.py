"""``medseg evaluate``: score a folder of predictions against their truths and write the per-case CSV."""

from __future__ import annotations

from pathlib import Path

from medseg.bundle.find import find_bundle
from medseg.evaluation.evaluate import evaluate_predictions
from medseg.evaluation.results import Evaluation, default_csv


def evaluate(pred: str | Path, truth: str | Path, bundle: str | Path, csv: str | Path | None = None,
             cases: list[str] | None = None, allow_missing: bool = False, tolerance_mm: float = 2.0) -> Evaluation:
    """Score ``pred`` against ``truth`` (a folder or a manifest) with ``bundle``'s label schema and mask
    coding, and write the per-case CSV (default ``<pred>_evaluation.csv`` beside the prediction folder)."""
    result = evaluate_predictions(pred, truth, find_bundle(bundle), tolerance_mm=tolerance_mm, cases=cases,
                                  allow_missing=allow_missing)
    result.write_csv(csv or default_csv(pred))
    return result
