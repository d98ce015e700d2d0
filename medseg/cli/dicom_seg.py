"""`medseg dicom-seg`: a thin layer over ``medseg.outputs.dicom_seg.write_dicom_seg``."""

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
    from medseg.bundle.find import find_bundle
    from medseg.outputs.dicom_seg import write_dicom_seg

    if folder is None and series is not None and Path(series).is_dir():
        folder, series = Path(series), None
    if folder is None:
        raise click.UsageError("name the source series folder: --dicom FOLDER")
    source = find_bundle(bundle)
    version = str(source.metadata.get("version", "0"))
    click.echo(str(write_dicom_seg(label, folder, source.schema, output, algorithm=source.name, version=version,
                                   series_uid=series)))
