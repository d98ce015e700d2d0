"""`medseg dicom-seg`: a thin layer over ``medseg.io.dicom_seg.write_dicom_seg``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("dicom-seg")
@click.argument("label", type=click.Path(path_type=Path))
@click.option("--series", required=True, type=click.Path(path_type=Path), help="Folder of the source DICOM series.")
@click.option("--bundle", required=True, help="Bundle (or run) whose label schema names the segments.")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="DICOM SEG file to write.")
def dicom_seg(label, series, bundle, output) -> None:
    """Write a DICOM SEG of a NIfTI LABEL map that lies on a DICOM series, for PACS review."""
    from medseg.bundles import find_bundle
    from medseg.io.atomic import ensure_not_input
    from medseg.io.dicom_seg import write_dicom_seg

    source = find_bundle(bundle)
    ensure_not_input(output, [label, *Path(series).glob("*")])
    version = str(source.metadata.get("version", "0"))
    click.echo(str(write_dicom_seg(label, series, source.schema, output, algorithm=source.name, version=version)))
