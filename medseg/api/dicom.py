"""``medseg dicom-seg``: a label map that lies on a DICOM series, as a DICOM SEG for PACS review."""

from __future__ import annotations

from pathlib import Path

from medseg.bundle.find import find_bundle
from medseg.outputs.dicom_seg import write_dicom_seg


def label_to_dicom_seg(label: str | Path, dicom: str | Path, bundle: str | Path, output: str | Path,
                       series: str | None = None) -> Path:
    """A DICOM SEG of a NIfTI label map lying on the DICOM series in ``dicom``, its segments named by ``bundle``'s
    label schema and the bundle named as the algorithm (``series``: which series, when the folder holds several)."""
    source = find_bundle(bundle)
    version = str(source.metadata.get("version", "0"))
    return write_dicom_seg(label, dicom, source.schema, output, algorithm=source.name, version=version,
                           series_uid=series)
