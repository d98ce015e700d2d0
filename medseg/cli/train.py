"""`medseg train`: a thin layer over ``medseg.train``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import DEVICE


@click.command()
@click.argument("bundle")
@click.option("--demo", is_flag=True, help="Train on built-in synthetic data (no download).")
@click.option("--data", type=click.Path(path_type=Path), help="Manifest (MSD datalist JSON).")
@click.option("--output-dir", type=click.Path(path_type=Path), help="Run directory to create.")
@click.option("--epochs", type=int, help="Override the bundle's number of epochs.")
@click.option("--fold", type=int, help="Validate on fold K of the manifest's k-fold split (data import --folds N).")
@click.option("--cache", type=click.Choice(["disk", "memory", "none"]),
              help="Preprocessing cache (default: the bundle's, normally disk).")
@DEVICE
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE", help="Set a config key (a#b for nesting).")
def train(bundle, demo, data, output_dir, epochs, fold, cache, device, overrides) -> None:
    """Train BUNDLE; the run directory is itself a trained MONAI bundle."""
    import medseg
    from medseg.bundles import parse_overrides

    result = medseg.train(bundle, data=data, demo=demo, output_dir=output_dir, epochs=epochs,
                          device=device, overrides=parse_overrides(overrides), fold=fold, cache=cache)
    click.echo(f"run directory: {result.run_dir}")
    click.echo(f"best validation Dice (mean over channels): {result.best_metric:.4f} at epoch {result.best_epoch}")
