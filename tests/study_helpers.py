"""Write a study as DICOM MR series (pydicom), as a scanner exports it: one folder per series."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_dicom_series(image, folder: Path, description: str, series_number: int, study_uid: str,
                       frame_uid: str, contrast_agent: str = "", echo_time: float = 10.0,
                       patient_id: str = "STUDY01") -> Path:
    """Every slice of a SimpleITK image as an MR Image Storage instance (LPS geometry from the image)."""
    import pydicom
    import SimpleITK as sitk
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    array = np.round(sitk.GetArrayFromImage(image)).astype(np.int16)  # (slices, rows, columns)
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    spacing = image.GetSpacing()
    series_uid = generate_uid()
    for k, pixels in enumerate(array):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.Modality, ds.SeriesDescription, ds.ProtocolName = "MR", description, description
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Study^Test", patient_id, "", "O"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20260101", "120000", "", "1"
        ds.ReferringPhysicianName, ds.Manufacturer = "", "medseg-test"
        ds.SeriesNumber, ds.InstanceNumber = series_number, k + 1
        ds.EchoTime, ds.RepetitionTime = echo_time, 2000.0
        if contrast_agent:
            ds.ContrastBolusAgent = contrast_agent
        ds.ImageOrientationPatient = [float(v) for v in (*direction[:, 0], *direction[:, 1])]
        ds.ImagePositionPatient = [float(v) for v in image.TransformIndexToPhysicalPoint((0, 0, k))]
        ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]
        ds.SliceThickness = float(spacing[2])
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"{k + 1:04d}.dcm", enforce_file_format=True)
    return folder


# How a scanner would name the sequences (and which carry a contrast agent).
SERIES = {
    "t1ce": ("AX T1 MPRAGE POST GD", "Gadovist", 3.0),
    "t1": ("t1_mprage_sag_p2", "", 3.0),
    "t2": ("t2_tse_tra_3mm", "", 95.0),
    "flair": ("tirm_tra_dark-fl_5mm", "", 85.0),
}


def write_dicom_study(nifti_study: Path, case: str, output: Path) -> Path:
    """Each ``<case>_<sequence>.nii.gz`` of a simulated study as its own DICOM series folder."""
    import SimpleITK as sitk
    from pydicom.uid import generate_uid

    study_uid, frame_uid = generate_uid(), generate_uid()
    for number, (sequence, (description, agent, echo)) in enumerate(SERIES.items(), start=1):
        image = sitk.ReadImage(str(nifti_study / f"{case}_{sequence}.nii.gz"))
        write_dicom_series(image, output / f"{number:02d}_{description.replace(' ', '_')}", description, number,
                           study_uid, frame_uid, agent, echo)
    return output


REGIONS = {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}  # brain_tumor's regions as label values


def aligned_by(study: Path, case: str, transforms: dict, output: Path) -> Path:
    """A case folder: the study's T1ce as it is and each other ``<case>_<sequence>.nii.gz`` of ``study`` put on
    the T1ce grid through ``transforms`` (sequence → reference-to-sequence transform): what registration
    with exactly these transforms gives, without registering."""
    import nibabel as nib
    import SimpleITK as sitk

    folder = output / case
    folder.mkdir(parents=True)
    t1ce_path = study / f"{case}_t1ce.nii.gz"
    t1ce = nib.load(t1ce_path)
    nib.save(t1ce, folder / t1ce_path.name)
    grid = sitk.ReadImage(str(t1ce_path), sitk.sitkFloat32)
    for sequence, transform in transforms.items():
        moving = sitk.ReadImage(str(study / f"{case}_{sequence}.nii.gz"), sitk.sitkFloat32)
        data = sitk.GetArrayFromImage(sitk.Resample(moving, grid, transform, sitk.sitkLinear, 0.0)).transpose(2, 1, 0)
        image = nib.Nifti1Image(data.astype(np.float32), t1ce.affine, t1ce.header)
        image.set_data_dtype(np.float32)
        nib.save(image, folder / f"{case}_{sequence}.nii.gz")
    return folder


def tumour_rule_network():
    """Fixed weights that outline real tumours from every sequence (none trained on tumours exist offline), so
    each sequence's registration shapes the mask: on 5-voxel box means of the z-scored sequences, the whole
    tumour is where FLAIR and T2 together are bright ((FLAIR + T2) / 2 above 0.8 SD), the core / enhancing
    tumour where the T1ce is brighter than the T1 (T1ce - T1 above 0.7 / 1.0 SD: contrast uptake)."""
    import torch

    t1, t1ce, t2, flair = range(4)  # the bundle's channel order
    rules = (({flair: 0.5, t2: 0.5}, 0.8), ({t1ce: 1.0, t1: -1.0}, 0.7), ({t1ce: 1.0, t1: -1.0}, 1.0))
    conv = torch.nn.Conv3d(4, 3, kernel_size=5, padding=2)
    with torch.no_grad():
        conv.weight.zero_()
        for out, (weights, threshold) in enumerate(rules):  # WT, TC, ET
            for channel, weight in weights.items():
                conv.weight[out, channel] = 8.0 * weight / 125
            conv.bias[out] = -8.0 * threshold
    return conv.eval()
