"""`medseg dicom-seg`: a thin layer over ``medseg.api.dicom.label_to_dicom_seg``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("dicom-seg")
@click.argument("label", type=click.Path(path_type=Path))
@click.option("--dicom", "folder", type=click.Path(path_type=Path), help="Folder of the source DICOM series.")
@click.option("--series", metavar="UID", help="SeriesInstanceUID to use when the folder holds several (as for "
              "medseg infer); a folder here is taken as --dicom, the older spelling.")
@click.option("--bundle", required=True, help="Bundle (or run) whose label schema names the segments.")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="DICOM SEG file to write.")
def dicom_seg(label, folder, series, bundle, output) -> None:
    """Write a DICOM SEG of a NIfTI LABEL map that lies on a DICOM series, for PACS review."""
    from medseg.api.dicom import label_to_dicom_seg

    if folder is None and series is not None and Path(series).is_dir():
        folder, series = Path(series), None
    if folder is None:
        raise click.UsageError("name the source series folder: --dicom FOLDER")
    click.echo(str(label_to_dicom_seg(label, folder, bundle, output, series)))
