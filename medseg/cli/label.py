"""`medseg label serve`: a thin layer over ``medseg.label.serve`` (a MONAI Label server for 3D Slicer)."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import DEVICE, TRUST


@click.group()
def label() -> None:
    """Review and correct masks in 3D Slicer (MONAI Label; pip install 'medseg[label]')."""


@label.command()
@click.argument("run")
@click.option("--studies", required=True, type=click.Path(path_type=Path),
              help="Folder of studies: case folders (one *_<sequence>.nii.gz per sequence) or NIfTI images. "
                   "Corrected labels are written to STUDIES/labels/final/.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: reachable from other machines on the network).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@DEVICE
@click.option("--time-limit", default=10.0, show_default=True, type=float, metavar="MIN",
              help="Minutes each Train (fine-tuning on the corrected studies) may take.")
@TRUST
def serve(run, studies, host, port, device, time_limit, trust) -> None:
    """Serve a trained RUN to 3D Slicer's MONAI Label module: Next Sample, Run, Submit Label, Train."""
    from medseg.label import serve as serve_run

    serve_run(run, studies, host=host, port=port, device=device, time_limit=time_limit, trust=trust)
