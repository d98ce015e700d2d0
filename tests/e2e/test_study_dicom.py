"""The simulated clinical study as DICOM series written with pydicom, end to end through
``medseg infer --register``, against the same study as NIfTI files: the T1ce read from DICOM is the NIfTI
T1ce (space and voxels), each transform lands where the true motion does, and the NIfTI files put through
the same transforms give the same mask voxel for voxel; the DICOM SEG is read back with highdicom."""

import json

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from medseg.data.inputs import resolve_case
from medseg.inference.predictor import Predictor
from medseg.outputs.nifti import label_image_like
from medseg.study import StudyOptions
from medseg.study.match import MAX_EDGE_RATIO
from medseg.study.register import RegistrationSettings
from medseg.study.simulate import brain_lattice, simulate_study, target_registration_error
from tests.study_helpers import REGIONS, aligned_by, tumour_rule_network, write_dicom_study

CASE = "Brats18_2013_2_1"


def _canonical(path):
    """The image with its voxel axes reordered to RAS (nibabel), so two grids of one space compare voxel for voxel."""
    image = nib.as_closest_canonical(nib.load(path))
    return image.affine, np.asarray(image.dataobj)


@pytest.mark.real_data
@pytest.mark.slow
def test_dicom_study_end_to_end(shared_data, tiny_run, tmp_path):
    import highdicom as hd

    truth = simulate_study(shared_data / "brats2018" / CASE, tmp_path / "nifti")
    study = write_dicom_study(tmp_path / "nifti", CASE, tmp_path / "PATIENT01")
    out = tmp_path / "out"
    # What `medseg infer RUN --register --all-grids` runs, with fixed weights that outline real tumours (the
    # tiny phantom network may label nothing on real MRI, and an empty mask gets no SEG to read back)
    predictor = Predictor.from_bundle(tiny_run, device="cpu", overrides={"roi_size": [128, 128, 128],
                                                                          "sw_overlap": 0.25})
    predictor.network = tumour_rule_network()
    options = StudyOptions(all_grids=True, settings=RegistrationSettings(samples=20_000))  # as test_study_real
    predictor.predict_to_dir([study], out, progress=False, study=options)
    names = {p.name for p in out.iterdir()}
    for sequence in ("t1", "t2", "flair"):
        assert f"PATIENT01_{sequence}_to_t1ce.tfm" in names and f"PATIENT01_seg_on_{sequence}.nii.gz" in names
    assert {"PATIENT01_seg.nii.gz", "PATIENT01.seg.nrrd", "PATIENT01_seg.dcm"} <= names
    document = json.loads((out / "PATIENT01_measurements.json").read_text())
    registration = document["registration"]
    assert registration["reference"] == "t1ce" and "POST GD" in registration["reference_series"]

    # The T1ce read from DICOM is the NIfTI T1ce: the same space, the same voxels (rows run the other way).
    dicom_affine, dicom_t1ce = _canonical(registration["reference_image"])
    nifti_affine, nifti_t1ce = _canonical(tmp_path / "nifti" / f"{CASE}_t1ce.nii.gz")
    np.testing.assert_allclose(dicom_affine, nifti_affine, atol=1e-3)
    np.testing.assert_array_equal(dicom_t1ce, nifti_t1ce)
    # Each transform lands where the true motion does (this replaces a `mattes_mi < 0` check that no result could
    # fail), and passed the match check.
    points = brain_lattice(tmp_path / "nifti" / f"{CASE}_t1ce.nii.gz", step_mm=10.0)
    transforms = {s: sitk.ReadTransform(str(out / f"PATIENT01_{s}_to_t1ce.tfm")) for s in ("t1", "t2", "flair")}
    for sequence, transform in transforms.items():
        error = target_registration_error(transform, truth[sequence], points)
        assert np.median(error) <= 1.0 and error.max() <= 2.0, (sequence, np.median(error), error.max())
        assert registration["sequences"][sequence]["match"]["edge_ratio"] <= MAX_EDGE_RATIO
    # The mask lies on the DICOM T1ce's grid, and is the mask of the NIfTI files put through the same transforms,
    # voxel for voxel: reading the study from DICOM changes nothing but the voxel order.
    mask = nib.load(out / "PATIENT01_seg.nii.gz")
    assert mask.shape == (240, 240, 155)  # the T1ce series' grid: 240 x 240 pixels, 155 slices
    np.testing.assert_allclose(mask.affine, nib.load(registration["reference_image"]).affine, atol=1e-4)
    nifti_case = resolve_case(aligned_by(tmp_path / "nifti", CASE, transforms, tmp_path / "nifti_route"),
                              ["t1", "t1ce", "t2", "flair"])
    nifti_mask = nib.as_closest_canonical(label_image_like(predictor.predict(nifti_case).label,
                                                           nifti_case.reference))
    mask_affine, mask_voxels = _canonical(out / "PATIENT01_seg.nii.gz")
    np.testing.assert_allclose(mask_affine, nifti_mask.affine, atol=1e-3)
    nifti_voxels = np.asarray(nifti_mask.dataobj)
    assert np.isin(nifti_voxels, REGIONS["TC"]).sum() > 1000 and np.isin(nifti_voxels, REGIONS["WT"]).sum() > 10_000
    differ = int(np.sum(mask_voxels != nifti_voxels))
    assert differ <= 10, f"{differ} voxels differ from the NIfTI route"

    t1ce_folder = next(p for p in study.iterdir() if "POST_GD" in p.name)
    sources = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(t1ce_folder.iterdir())]
    seg = hd.seg.segread(out / "PATIENT01_seg.dcm")
    referenced = {ref.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence
                  for ref in item.ReferencedInstanceSequence}
    assert referenced <= {ds.SOPInstanceUID for ds in sources}
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == sources[0].SeriesInstanceUID
    labels = np.asarray(mask.dataobj)
    volume = seg.get_volume(combine_segments=True, relabel=True)
    labelled = {d.SegmentLabel: int(np.sum(volume.array == d.SegmentNumber)) for d in seg.SegmentSequence}
    schema_values = {"necrotic tumour core": 1, "peritumoral oedema": 2, "enhancing tumour": 4}
    expected = {name: int(np.sum(labels == value)) for name, value in schema_values.items()}
    assert labelled == {name: count for name, count in expected.items() if count}
