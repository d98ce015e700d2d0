"""`medseg evaluate`: a thin layer over ``medseg.evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--pred", required=True, type=click.Path(path_type=Path), help="Folder of predicted label maps.")
@click.option("--truth", required=True, type=click.Path(path_type=Path), help="Folder of truths or a manifest.")
@click.option("--bundle", required=True, help="Bundle whose label schema defines the structures.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Per-case CSV (default PRED/evaluation.csv).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def evaluate(pred, truth, bundle, csv_path, as_json) -> None:
    """Dice per label and per region for every predicted case."""
    from medseg.bundles import find_bundle
    from medseg.evaluate import evaluate_predictions
    from medseg.io.atomic import ensure_not_input, write_text_atomic

    source = find_bundle(bundle)
    result = evaluate_predictions(pred, truth, source.schema, source.modalities)
    csv_path = csv_path or Path(pred) / "evaluation.csv"
    ensure_not_input(csv_path, result.inputs)
    write_text_atomic(csv_path, result.to_csv())
    if as_json:
        click.echo(json.dumps({"cases": len(result.rows), "summary": result.summary(), "per_case": result.rows}))
    else:
        click.echo(result.table())
