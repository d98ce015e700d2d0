"""DICOM SEG for a label map that lies on a DICOM series (highdicom).

The label map is given on a NIfTI grid (what ``medseg infer`` writes); it is carried onto the
series' own frames by physical position: every pixel centre of every source slice is mapped into
the NIfTI's voxel grid (Slicer's transform, ``viewer_affine``) and must land on a voxel centre, so
any flip, transpose or slice order is resolved exactly and a label on another grid is refused.

Segments are the schema labels present in the mask (segment numbers 1…N in schema order), with
the schema's name and colour. Each name is coded with SNOMED CT where pydicom's segmentation
property CIDs know it (CID 7151 anatomic structures, CID 7159 abnormal structures; laterality words
and British spellings are normalised for the look-up), otherwise with a private ``99MEDSEG`` code.
A left or right structure carries its side as a property type modifier (CID 244, SNOMED CT Left/Right).

Anonymised series that lost their UIDs (the SOP UIDs survive in the file meta) are completed: SOP
class/instance UIDs from the file meta, missing study/series UIDs with deterministic ones, absent
type-2 patient/study attributes as empty values, so the SEG is valid; a PACS will not link such a
SEG to the original study.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medseg.errors import InputError, OutputError, warn
from medseg.io.atomic import atomic_path, ensure_not_beside_input, ensure_not_input
from medseg.io.dicom import check_series, select_series
from medseg.io.geometry import ras_to_lps, viewer_affine
from medseg.io.read import load_nifti_header
from medseg.labels import Label, LabelSchema
from medseg.outputs.nifti import label_image_like
from medseg.outputs.prediction import Prediction

GRID_TOLERANCE = 1e-3  # voxels
SPELLING = {"oedema": "edema", "tumour": "tumor", "haemorrhage": "hemorrhage", "oesophagus": "esophagus"}
LATERALITY = {"left", "right", "l", "r"}
TYPE2 = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "AccessionNumber",
         "StudyID", "ReferringPhysicianName")  # highdicom copies these from the source; type 2: may be empty


def source_instances(source: str | Path | Sequence[Path], series_uid: str | None = None) -> list:
    """The instances (with pixels) of the series ``medseg infer`` reads, in its order, UIDs completed.

    A folder goes through ``medseg.io.dicom``: its one series (or ``series_uid``), sorted along the
    slice normal, refused when it is not one regular grid, so the SEG references exactly the slices
    that were segmented. A sequence of files (a case's ``dicom_series``) is already that selection.
    """
    import pydicom
    from pydicom.uid import generate_uid

    if isinstance(source, str | Path):
        folder = Path(source)
        chosen = select_series(folder, series_uid)
        check_series(chosen, folder)
        files = list(chosen.files)
    else:
        files = [Path(p) for p in source]
        folder = files[0].parent if files else Path()
    if not files:
        raise InputError("no DICOM files found", folder)
    datasets = []
    for path in files:
        try:
            datasets.append(pydicom.dcmread(path))
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types for broken files
            raise InputError(f"not a readable DICOM file ({type(exc).__name__}: {exc})", path) from exc
    first = datasets[0]
    for key in ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing", "FrameOfReferenceUID"):
        if any(key not in ds for ds in datasets):
            raise InputError(f"DICOM series lacks {key}; cannot place a segmentation on it", folder)
    seed = [str(first.FrameOfReferenceUID), str(first.get("SeriesDescription", ""))]
    study_uid = first.get("StudyInstanceUID") or generate_uid(entropy_srcs=[*seed, "study"])
    series_uid = first.get("SeriesInstanceUID") or generate_uid(entropy_srcs=[*seed, "series"])
    for ds in datasets:
        complete_source(ds, study_uid, series_uid)
    return datasets


def complete_source(ds, study_uid: str | None = None, series_uid: str | None = None):
    """Make a source instance acceptable to highdicom: SOP UIDs from the file meta, the given (or its own,
    else deterministic) study/series UIDs, empty type-2 patient/study attributes where absent."""
    from pydicom.uid import generate_uid

    ds.SOPClassUID = ds.get("SOPClassUID") or ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.get("SOPInstanceUID") or ds.file_meta.MediaStorageSOPInstanceUID
    seed = [str(ds.SOPInstanceUID)]
    ds.StudyInstanceUID = study_uid or ds.get("StudyInstanceUID") or generate_uid(entropy_srcs=[*seed, "study"])
    ds.SeriesInstanceUID = series_uid or ds.get("SeriesInstanceUID") or generate_uid(entropy_srcs=[*seed, "series"])
    for keyword in TYPE2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def label_on_series(label: np.ndarray, affine_ras: np.ndarray, datasets: list) -> np.ndarray:
    """(frames, rows, columns) of ``label`` at the series' pixel centres; refuses a different grid."""
    to_voxel = np.linalg.inv(ras_to_lps(affine_ras))
    frames = []
    for ds in datasets:
        orientation = np.asarray(ds.ImageOrientationPatient, float).reshape(2, 3)
        row_spacing, column_spacing = (float(s) for s in ds.PixelSpacing)
        rows, columns = np.meshgrid(np.arange(ds.Rows), np.arange(ds.Columns), indexing="ij")
        points = (np.asarray(ds.ImagePositionPatient, float)
                  + columns[..., None] * column_spacing * orientation[0]
                  + rows[..., None] * row_spacing * orientation[1])
        ijk = points @ to_voxel[:3, :3].T + to_voxel[:3, 3]
        index = np.rint(ijk).astype(np.int64)
        if np.abs(ijk - index).max() > GRID_TOLERANCE or (index < 0).any() or (index >= label.shape[:3]).any():
            raise InputError("the label map is not on the grid of this DICOM series (resample it first)")
        frames.append(label[index[..., 0], index[..., 1], index[..., 2]])
    return np.stack(frames)


def _code(name: str) -> tuple:
    """(category, property type) codes for a structure name; see the module docstring."""
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    words = [SPELLING.get(w, w) for w in re.findall(r"[a-z0-9]+", name.lower())]
    candidates = [words, [w for w in words if w not in LATERALITY], words[-1:]]
    for category, cid in (("AnatomicalStructure", codes.cid7151), ("MorphologicallyAbnormalStructure", codes.cid7159)):
        for candidate in candidates:
            keyword = "".join(w.capitalize() for w in candidate)
            if keyword and keyword in cid.dir():
                return getattr(codes.cid7150, category), getattr(cid, keyword)
    private = Code(re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:16] or "structure", "99MEDSEG", name[:64])
    return codes.cid7150.Tissue, private


def segment_descriptions(labels: list[Label], algorithm: str, version: str) -> list:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm_id = hd.AlgorithmIdentificationSequence(name=algorithm, family=codes.cid7162.ArtificialIntelligence,
                                                      version=version)
    out = []
    for number, label in enumerate(labels, start=1):
        category, property_type = _code(label.name)
        description = hd.seg.SegmentDescription(
            segment_number=number, segment_label=label.name[:64], segmented_property_category=category,
            segmented_property_type=property_type, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm_id, display_color=hd.color.CIELabColor.from_rgb(*label.color))
        side = laterality(label.name)
        if side is not None:  # "right lung" is coded Lung + modifier Right, as DICOM CID 244 has it
            description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
                hd.sr.CodedConcept(side.value, side.scheme_designator, side.meaning)]
        out.append(description)
    return out


def laterality(name: str):
    """SNOMED CT Right/Left (DICOM CID 244) for a structure named with a side, else ``None``."""
    from pydicom.sr.codedict import codes

    words = set(re.findall(r"[a-z]+", name.lower()))
    if words & {"right", "r"} and not words & {"left", "l"}:
        return codes.cid244.Right
    if words & {"left", "l"} and not words & {"right", "r"}:
        return codes.cid244.Left
    return None


def segmentation(
    label: np.ndarray, affine_ras: np.ndarray, datasets: list, schema: LabelSchema,
    algorithm: str = "medseg", version: str = "0.1.0",
):
    """A highdicom ``Segmentation`` of ``label`` (on the grid ``affine_ras``) over the series ``datasets``;
    None when the label holds none of the schema's structures on the series."""
    import highdicom as hd
    from pydicom.uid import generate_uid

    frames = label_on_series(np.rint(np.asarray(label)).astype(np.int64), affine_ras, datasets)
    present = [item for item in schema.labels if np.any(frames == item.value)]
    if not present:
        return None
    numbered = np.zeros(frames.shape, np.uint8)
    for number, item in enumerate(present, start=1):
        numbered[frames == item.value] = number
    return hd.seg.Segmentation(
        source_images=datasets, pixel_array=numbered, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions(present, algorithm, version),
        series_instance_uid=generate_uid(), series_number=900, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="medseg", manufacturer_model_name=algorithm, software_versions=version,
        device_serial_number="0", series_description=f"{algorithm} segmentation",
    )


def write_dicom_seg(
    label_nifti: str | Path, series: str | Path, schema: LabelSchema, output: str | Path,
    algorithm: str = "medseg", version: str = "0.1.0", series_uid: str | None = None,
) -> Path:
    """Write a DICOM SEG of a NIfTI label map that lies on the DICOM series in folder ``series``
    (``series_uid``: which one, when the folder holds several); never over the label or a source file."""
    ensure_not_input(output, [label_nifti, *Path(series).glob("*")])
    image = load_nifti_header(label_nifti)
    data = np.asarray(image.dataobj)
    if not np.array_equal(data, np.rint(data)):
        raise InputError("not a label map (it holds non-integer values)", label_nifti)
    schema.check_label_values(data, label_nifti)  # an unknown value would be dropped or misnamed
    try:
        seg = segmentation(data, viewer_affine(image), source_instances(series, series_uid), schema, algorithm,
                           version)
    except InputError as exc:
        raise InputError(exc.message, exc.path or label_nifti) from exc
    if seg is None:
        raise OutputError("the mask holds none of the schema's structures on this series; no SEG written", output)
    with atomic_path(output) as tmp:
        seg.save_as(tmp)
    return Path(output)


class DicomSegWriter:
    """``<case>_seg.dcm`` for a case read from a DICOM series (other cases: nothing), for PACS review.

    The prediction is on the grid of the NIfTI converted from the series, so its frames are carried
    back onto the source slices exactly (``label_on_series``) and reference their SOP instances.
    """

    def __init__(self, algorithm: str = "medseg", version: str = "0.1.0", suffix: str = "_seg") -> None:
        self.algorithm, self.version, self.suffix = algorithm, version, suffix

    def __call__(self, prediction: Prediction, output_dir: Path) -> list[Path]:
        case = prediction.case
        if not case.dicom_series:
            return []
        output = Path(output_dir) / f"{case.case_id}{self.suffix}.dcm"
        ensure_not_beside_input(output, [*case.images, *case.dicom_series])
        image = label_image_like(prediction.label, case.reference)
        seg = segmentation(np.asarray(image.dataobj), viewer_affine(image), source_instances(case.dicom_series),
                           prediction.schema, self.algorithm, self.version)
        if seg is None:
            warn("no structure found, no DICOM SEG written", case.dicom_series[0].parent)
            return []
        with atomic_path(output) as tmp:
            seg.save_as(tmp)
        return [output]
