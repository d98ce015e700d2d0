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


@data.command("import-xray")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Manifest JSON to write.")
@click.option("--layout", type=click.Choice(["structures", "pairs"]), default="structures", show_default=True,
              help="structures: images/ + masks/<structure>/ (JSRT/SCR); pairs: images/ + masks/ (one lung label).")
@click.option("--test-fraction", default=0.0, show_default=True, help="Seeded share of cases held out as 'test'.")
@click.option("--seed", default=0, show_default=True)
def data_import_xray(folder, output, layout, test_fraction, seed) -> None:
    """Write a manifest for a chest X-ray FOLDER (for `medseg train chest_xray --data`)."""
    from medseg.data.xray_import import import_xray_folder

    click.echo(str(import_xray_folder(folder, output, layout=layout, test_fraction=test_fraction, seed=seed)))
