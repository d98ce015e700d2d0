"""DICOM SEG for an X-ray read from a single-frame DICOM (CR, DX), for PACS review.

One segment per structure the prediction holds. Overlapping schemas keep one segment per network
channel (a BINARY SEG stores each segment's own mask, so overlaps survive): a channel of a single
label takes that label's name, a region channel its own name; colours are the painted label's.
Exclusive schemas get one segment per label. Names are coded like the series SEG
(``medseg.outputs.dicom_seg``).

An X-ray has no patient frame of reference: the SEG lies on the image's pixel matrix (rows,
columns) and references the image's SOP instance. Pixel Measures (which ``highdicom.seg.segread``
needs) carry the source's own spacing (PixelSpacing, else ImagerPixelSpacing); a source without a
usable spacing keeps its own values (e.g. 0 \\ 0, "unknown"), never the 1 mm medseg assumes for
measuring. Slice thickness is nominal for a projection: the source's SliceThickness when it has
one, else the row spacing.
Missing study/series UIDs and empty type-2 patient/study attributes, common in anonymised files,
are completed as for series, so the SEG is valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medseg.errors import warn
from medseg.io.atomic import atomic_path, ensure_not_input
from medseg.io.dicom import is_dicom_file
from medseg.labels import Label
from medseg.outputs.dicom_seg import complete_source, segment_descriptions
from medseg.outputs.prediction import Prediction


def segments(prediction: Prediction) -> list[tuple[Label, np.ndarray]]:
    """(label, mask) per structure present, masks as (rows, columns); see the module docstring."""
    schema = prediction.schema
    if schema.mode == "overlapping":
        by_value = {label.value: label for label in schema.labels}
        pairs = []
        for channel, mask in zip(schema.channels, prediction.region_masks()):
            paint = by_value[channel.paint]
            name = paint.name if channel.values == (channel.paint,) else channel.name
            pairs.append((Label(name, paint.value, paint.color), mask))
    else:
        pairs = [(label, np.asarray(prediction.label) == label.value) for label in schema.labels]
    return [(label, np.asarray(mask, bool).T) for label, mask in pairs if np.any(mask)]


class XRayDicomSegWriter:
    """``<case>_seg.dcm`` for an X-ray read from DICOM (PNG/JPEG inputs: nothing)."""

    def __init__(self, algorithm: str = "medseg", version: str = "0.1.0", suffix: str = "_seg") -> None:
        self.algorithm, self.version, self.suffix = algorithm, version, suffix

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        import highdicom as hd
        import pydicom
        from pydicom.uid import generate_uid

        case = prediction.case
        if not is_dicom_file(Path(case.reference)):
            return []
        output = Path(output_dir) / f"{case.case_id}{self.suffix}.dcm"
        ensure_not_input(output, list(case.images))
        found = segments(prediction)
        if not found:
            warn("no structure found, no DICOM SEG written", case.reference)
            return []
        source = complete_source(pydicom.dcmread(case.reference))
        pixel_array = np.stack([mask for _, mask in found], axis=-1)[None]  # (1 frame, rows, columns, segments)
        seg = hd.seg.Segmentation(
            source_images=[source], pixel_array=pixel_array, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=segment_descriptions([label for label, _ in found], self.algorithm, self.version),
            series_instance_uid=generate_uid(), series_number=900, sop_instance_uid=generate_uid(), instance_number=1,
            manufacturer="medseg", manufacturer_model_name=self.algorithm, software_versions=self.version,
            device_serial_number="0", series_description=f"{self.algorithm} segmentation",
            pixel_measures=source_pixel_measures(source),
        )
        with atomic_path(output) as tmp:
            seg.save_as(tmp)
        return [output]


def source_pixel_measures(source):
    """Pixel Measures claiming no more than the source: its spacing as stored, a nominal thickness."""
    import highdicom as hd

    spacing = (0.0, 0.0)
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            values = tuple(float(v) for v in source.get(keyword) or ())
        except (TypeError, ValueError):
            continue
        if len(values) == 2 and all(np.isfinite(values)):
            spacing = values
            if min(values) > 0:
                break
    try:
        thickness = float(source.get("SliceThickness"))
    except (TypeError, ValueError):
        thickness = spacing[0]
    return hd.PixelMeasuresSequence(pixel_spacing=spacing, slice_thickness=thickness)
