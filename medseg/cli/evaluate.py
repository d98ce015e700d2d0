"""`medseg evaluate`: a thin layer over ``medseg.evaluate``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click


@click.command()
@click.option("--pred", required=True, type=click.Path(path_type=Path), help="Folder of predicted label maps.")
@click.option("--truth", required=True, type=click.Path(path_type=Path), help="Folder of truths or a manifest.")
@click.option("--bundle", required=True, help="Bundle whose label schema defines the structures.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path),
              help="Per-case CSV (default: PRED_evaluation.csv beside the prediction folder).")
@click.option("--cases", "case_list", metavar="ID[,ID...]", help="Score only these case ids (comma-separated).")
@click.option("--allow-missing", is_flag=True, help="Skip cases lacking a prediction or a truth (with a warning).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--tolerance-mm", type=float, default=2.0, show_default=True, help="Surface Dice tolerance.")
def evaluate(pred, truth, bundle, csv_path, case_list, allow_missing, as_json, tolerance_mm) -> None:
    """Dice, surface Dice, HD95 (mm), sensitivity and precision per label and region for every case."""
    from medseg.bundles import find_bundle
    from medseg.evaluate import evaluate_predictions
    from medseg.io.atomic import ensure_not_input, write_text_atomic
    from medseg.metrics import EMPTY_RULES

    source = find_bundle(bundle)
    cases = [c.strip() for c in case_list.split(",") if c.strip()] if case_list else None
    result = evaluate_predictions(pred, truth, source.schema, source.modalities, tolerance_mm=tolerance_mm,
                                  cases=cases, allow_missing=allow_missing)
    csv_path = csv_path or default_csv(pred)
    ensure_not_input(csv_path, result.inputs)
    write_text_atomic(csv_path, result.to_csv())
    if as_json:
        document = {"cases": len(result.rows), "summary": result.summary(), "metrics": result.metric_summary(),
                    "surface_dice_tolerance_mm": tolerance_mm, "empty_rules": EMPTY_RULES, "per_case": result.rows}
        click.echo(json.dumps(_finite(document)))
    else:
        click.echo(result.table())


def default_csv(pred: Path) -> Path:
    """``predictions/`` → ``predictions_evaluation.csv`` beside it: the prediction folder holds predictions only."""
    folder = Path(pred).resolve()
    return folder.parent / f"{folder.name}_evaluation.csv"


def _finite(value):
    """NaN (an undefined metric) becomes JSON null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
