"""`medseg evaluate`: a thin layer over ``medseg.api.evaluation.evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from medseg.cli.options import POSITIVE


@click.command()
@click.option("--pred", required=True, type=click.Path(path_type=Path), help="Folder of predicted label maps.")
@click.option("--truth", required=True, type=click.Path(path_type=Path),
              help="A manifest, or the dataset's folder (read as `medseg data import` reads it) or a folder of labels.")
@click.option("--bundle", required=True, help="Bundle whose label schema defines the structures.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path),
              help="Per-case CSV (default: PRED_evaluation.csv beside the prediction folder).")
@click.option("--cases", "case_list", metavar="ID[,ID...]", help="Score only these case ids (comma-separated).")
@click.option("--allow-missing", is_flag=True, help="Skip cases lacking a prediction or a truth (with a warning).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--tolerance-mm", type=POSITIVE, default=2.0, show_default=True,
              help="Surface Dice tolerance (pixels for PNG predictions).")
def evaluate(pred, truth, bundle, csv_path, case_list, allow_missing, as_json, tolerance_mm) -> None:
    """Dice, surface Dice, HD95 (mm; px for images without a header), sensitivity and precision per label and
    region for every case."""
    from medseg.api.evaluation import evaluate

    cases = [c.strip() for c in case_list.split(",") if c.strip()] if case_list else None
    result = evaluate(pred, truth, bundle, csv_path, cases=cases, allow_missing=allow_missing,
                      tolerance_mm=tolerance_mm)
    click.echo(json.dumps(result.document()) if as_json else result.table())
