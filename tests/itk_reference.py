"""An independent placement of a NIfTI label on a DICOM series (ITK), to check DICOM SEG writers against."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk


def label_on_series(series: Path, label_nifti: Path, outside: int = 0) -> tuple[np.ndarray, list[str]]:
    """ITK reads the series and resamples the label onto its slices (nearest neighbour).

    Returns the label as (slices, rows, columns) and the series' files in ITK's slice order;
    ``outside`` fills slice voxels the label does not cover.
    """
    reader = sitk.ImageSeriesReader()
    files = list(reader.GetGDCMSeriesFileNames(str(series)))
    reader.SetFileNames(files)
    image = reader.Execute()
    label = sitk.ReadImage(str(label_nifti))
    resampled = sitk.Resample(label, image, sitk.Transform(), sitk.sitkNearestNeighbor, outside)
    return sitk.GetArrayFromImage(resampled), files
