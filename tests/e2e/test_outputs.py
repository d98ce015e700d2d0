"""Reader-facing outputs end to end: infer → Slicer/measurements/probabilities → evaluate → report."""

import json

import nibabel as nib
import nrrd
import numpy as np
import pytest
import SimpleITK as sitk

from medseg.bundle.find import find_bundle
from medseg.io.read import CaseFiles
from medseg.outputs.measurements import MeasurementWriter
from medseg.outputs.nifti import NiftiLabelWriter
from medseg.outputs.prediction import Prediction
from medseg.outputs.slicer import SlicerSegWriter
from tests.cli_helpers import run


@pytest.mark.slow
def test_infer_with_every_output_then_evaluate_and_report(tiny_run, tiny_dataset, tmp_path):
    case = tiny_dataset.parent / "phantom_009_lps"
    out = tmp_path / "pred"
    result = run("infer", tiny_run, "--input", case, "--output-dir", out, "--device", "cpu",
                 "--save-probabilities", "--tta")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["brain_tumor.ctbl", "phantom_009_lps.seg.nrrd", "phantom_009_lps_measurements.csv",
                     "phantom_009_lps_measurements.json", "phantom_009_lps_probabilities.nii.gz",
                     "phantom_009_lps_seg.nii.gz"]
    label_image = nib.load(out / "phantom_009_lps_seg.nii.gz")
    label = np.asarray(label_image.dataobj)
    probabilities = nib.load(out / "phantom_009_lps_probabilities.nii.gz")
    assert probabilities.shape == (*label.shape, 3)
    np.testing.assert_allclose(probabilities.affine, label_image.affine, atol=1e-6)
    seg, _ = nrrd.read(str(out / "phantom_009_lps.seg.nrrd"))
    np.testing.assert_array_equal(seg[0], label)

    document = json.loads((out / "phantom_009_lps_measurements.json").read_text())
    voxel_ml = abs(np.linalg.det(label_image.affine[:3, :3])) / 1000
    for row in document["structures"]:  # labels, then the regions: all read from the one label map
        assert row["voxels"] == int(np.isin(label, row["values"]).sum())
        assert row["volume_ml"] == pytest.approx(row["voxels"] * voxel_ml)
    for layer, values in zip(seg[1:], ([1, 2, 4], [1, 4], [4])):  # the WT, TC, ET layers
        np.testing.assert_array_equal(layer == 1, np.isin(label, values))

    result = run("evaluate", "--pred", out, "--truth", case, "--bundle", tiny_run, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert set(summary["metrics"]["WT"]) == {"dice", "surface_dice", "hd95_mm", "sensitivity", "precision"}
    assert summary["surface_dice_tolerance_mm"] == 2.0 and "both empty" in summary["empty_rules"]

    result = run("report", out)
    assert result.exit_code == 0, result.output
    page = (out / "report" / "index.html").read_text()
    assert "phantom_009_lps_views.png" in page and "WT" in page and "Evaluation" in page


@pytest.mark.slow
def test_infer_names_each_file_once_however_many_cases_share_it(tiny_run, tiny_dataset, tmp_path):
    """The bundle's colour table serves every case of the folder: written with each, printed once."""
    cases = [tiny_dataset.parent / name for name in ("phantom_008_ras", "phantom_009_lps")]
    result = run("infer", tiny_run, *[a for case in cases for a in ("--input", case)], "--output-dir",
                 tmp_path / "pred", "--device", "cpu")
    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    assert [line for line in printed if line.endswith(".ctbl")] == [str(tmp_path / "pred" / "brain_tumor.ctbl")]
    assert len([line for line in printed if line.endswith("_seg.nii.gz")]) == 2


@pytest.mark.real_data
def test_real_brats_label_as_slicer_segmentation_and_measurements(shared_data, tmp_path):
    schema = find_bundle("brain_tumor").schema
    folder = shared_data / "brats2018" / "Brats18_TCIA05_396_1"
    truth = np.asarray(nib.load(folder / "Brats18_TCIA05_396_1_seg.nii.gz").dataobj).astype(np.uint8)
    case = CaseFiles("Brats18_TCIA05_396_1", (folder / "Brats18_TCIA05_396_1_flair.nii.gz",))
    prediction = Prediction(case, truth, schema.label_map_to_channels(truth), schema)
    (nifti,) = NiftiLabelWriter()(prediction, tmp_path)
    (seg,) = SlicerSegWriter()(prediction, tmp_path)
    json_path, _ = MeasurementWriter()(prediction, tmp_path)

    label_image, seg_image = sitk.ReadImage(str(nifti)), sitk.ReadImage(str(seg))
    assert seg_image.GetOrigin() == pytest.approx(label_image.GetOrigin())
    assert seg_image.GetDirection() == pytest.approx(label_image.GetDirection())
    assert seg_image.GetSpacing() == pytest.approx(label_image.GetSpacing())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(seg_image)[..., 0], sitk.GetArrayFromImage(label_image))
    rows = {row["structure"]: row for row in json.loads(json_path.read_text())["structures"]}
    assert rows["WT"]["voxels"] == int((truth > 0).sum())
    assert rows["WT"]["volume_ml"] == pytest.approx((truth > 0).sum() / 1000)  # 1 mm isotropic voxels
