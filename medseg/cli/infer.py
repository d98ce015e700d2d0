"""`medseg infer`: a thin layer over ``medseg.Predictor``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import DEVICE, TRUST


@click.command()
@click.argument("bundle")
@click.option("--input", "inputs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Case folder, DICOM series folder, NIfTI file, X-ray (DICOM, PNG, JPEG) or manifest; "
                   "repeatable.")
@click.option("--output-dir", required=True, type=click.Path(path_type=Path))
@click.option("--series", metavar="UID", help="SeriesInstanceUID to read when a DICOM folder holds several.")
@DEVICE
@click.option("--override", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--save-probabilities", is_flag=True,
              help="Also write per-class probabilities, channels last, on the input grid.")
@click.option("--probability-dtype", type=click.Choice(["uint8", "float16"]), default="uint8", show_default=True,
              help="uint8: NIfTI with scl_slope 1/255; float16: .npz.")
@click.option("--ensemble", "ensemble", multiple=True, type=click.Path(path_type=Path), metavar="RUN",
              help="Another trained run (e.g. another fold) whose probabilities are averaged with BUNDLE's; "
                   "repeatable.")
@click.option("--tta", is_flag=True, help="Average flipped predictions as the bundle declares (slower).")
@TRUST
def infer(bundle, inputs, output_dir, series, device, overrides, save_probabilities, probability_dtype, ensemble,
          tta, trust) -> None:
    """Segment studies with a trained BUNDLE or run directory; writes the bundle's outputs per case."""
    from medseg.bundles import parse_overrides
    from medseg.engine.infer import Predictor

    predictor = Predictor.from_bundles([bundle, *ensemble], device=device, overrides=parse_overrides(overrides),
                                       trust=trust, tta=tta,
                                       probabilities=probability_dtype if save_probabilities else None)
    for path in predictor.predict_to_dir(list(inputs), output_dir, series=series):
        click.echo(str(path))
