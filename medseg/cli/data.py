"""`medseg data ...`: demo data and manifests."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def data() -> None:
    """Built-in demo data and manifests."""


@data.command("demo")
@click.argument("bundle")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Folder to write the phantoms to.")
@click.option("--seed", default=0, show_default=True)
def data_demo(bundle, output, seed) -> None:
    """Write BUNDLE's built-in synthetic cases and their manifest (training/validation/test)."""
    from medseg.api import write_demo_data

    click.echo(str(write_demo_data(bundle, output, seed=seed)))
