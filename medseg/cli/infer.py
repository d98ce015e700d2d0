"""`medseg infer`: a thin layer over ``medseg.Predictor``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import DEVICE


@click.command()
@click.argument("bundle")
@click.option("--input", "inputs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Case folder, NIfTI file, X-ray (DICOM, PNG, JPEG) or manifest; repeatable.")
@click.option("--output-dir", required=True, type=click.Path(path_type=Path))
@DEVICE
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE")
def infer(bundle, inputs, output_dir, device, overrides) -> None:
    """Segment studies with a trained BUNDLE or run directory; writes <case>_seg.nii.gz."""
    from medseg.bundles import parse_overrides
    from medseg.engine.infer import Predictor

    predictor = Predictor.from_bundle(bundle, device=device, overrides=parse_overrides(overrides))
    for path in predictor.predict_to_dir(list(inputs), output_dir):
        click.echo(str(path))
