"""`medseg report`: a thin layer over ``medseg.outputs.report.build_report``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--output-dir", type=click.Path(path_type=Path), help="Where to write (default SOURCE/report).")
def report(source, output_dir) -> None:
    """HTML page + PNGs for a run directory or an infer output folder: curves, overlays, measurements."""
    from medseg.api import build_report

    click.echo(str(build_report(source, output_dir)))
