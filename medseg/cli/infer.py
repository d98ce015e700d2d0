"""`medseg infer`: a thin layer over ``medseg.api.prediction.predict``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import DEVICE, TRUST, api_usage_errors


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
@click.option("--register", is_flag=True,
              help="Inputs are clinical studies (NIfTI files or DICOM series on their own grids): identify the "
                   "sequences, register them rigidly onto the reference and segment on the reference grid.")
@click.option("--reference", default="t1ce", show_default=True, type=click.Choice(["t1ce", "flair", "t1", "t2"]),
              help="With --register: the sequence whose grid the mask is written on.")
@click.option("--sequence", "sequences", multiple=True, metavar="SEQ=UID|PATH",
              help="With --register: which series is which sequence (e.g. t1ce=1.2.840...); repeatable.")
@click.option("--all-grids", is_flag=True, help="With --register: also write the mask on every sequence's grid.")
@click.option("--allow-skull", is_flag=True,
              help="With --register: segment sequences that are not brain-extracted (the network expects them to be).")
@api_usage_errors
def infer(bundle, inputs, output_dir, series, device, overrides, save_probabilities, probability_dtype, ensemble,
          tta, trust, register, reference, sequences, all_grids, allow_skull) -> None:
    """Segment studies with a trained BUNDLE or run directory; writes the bundle's outputs per case."""
    from medseg.api import parse_overrides, predict

    written = predict(bundle, inputs, output_dir, ensemble=ensemble, device=device,
                      overrides=parse_overrides(overrides), trust=trust, tta=tta,
                      probabilities=probability_dtype if save_probabilities else None,
                      series=series, register=register, reference=reference, sequences=parse_sequences(sequences),
                      all_grids=all_grids, allow_skull=allow_skull)
    for path in written:
        click.echo(str(path))


def parse_sequences(items) -> dict[str, str]:
    """``("t1ce=1.2.3", ...)`` → ``{"t1ce": "1.2.3"}``."""
    out = {}
    for item in items:
        sequence, sep, value = item.partition("=")
        if not sep or not value:
            raise click.BadParameter(f"expected SEQ=UID|PATH, got {item!r}", param_hint="--sequence")
        out[sequence.strip().lower()] = value.strip()
    return out
