"""Tiny CT slices written by the tests themselves: series folders for the DICOM readers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def write_ct_slice(path: Path, series: str, position: Sequence[float], index: int, spacing: float = 1.0,
                   value: int = 0) -> Path:
    """A 4 x 4 axial CT slice with pixel data (all ``value``) at ``position`` in series ``series``."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", series, "1.2"
    ds.ImagePositionPatient, ds.ImageOrientationPatient = list(position), [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness, ds.InstanceNumber = [spacing, spacing], 1, index + 1
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.full((4, 4), value, np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
