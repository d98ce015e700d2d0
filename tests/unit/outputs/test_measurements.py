"""Volumes are voxel count × voxel volume; centroids and boxes are in RAS millimetres."""

import json

import nibabel as nib
import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.io.read import CaseFiles
from medseg.labels import LabelSchema
from medseg.outputs.measurements import MeasurementWriter, measure_label
from medseg.outputs.prediction import Prediction


def test_volume_centroid_and_box_in_scanner_space():
    schema = find_bundle("brain_tumor").schema
    affine = np.array([[-0.9, 0, 0, 30.0], [0, -0.9, 0, 20.0], [0, 0, 1.1, -5.0], [0, 0, 0, 1]])
    label = np.zeros((10, 10, 10), np.uint8)
    label[2:4, 3:6, 4:8] = 4  # 2 × 3 × 4 = 24 voxels
    label[5, 5, 5] = 1
    rows = {row["structure"]: row for row in measure_label(label, affine, schema)}
    voxel_ml = 0.9 * 0.9 * 1.1 / 1000
    assert rows["enhancing tumour"]["voxels"] == 24
    assert rows["enhancing tumour"]["volume_ml"] == pytest.approx(24 * voxel_ml)
    assert rows["TC"]["volume_ml"] == pytest.approx(25 * voxel_ml)
    np.testing.assert_allclose(rows["enhancing tumour"]["centroid_ras"],
                               nib.affines.apply_affine(affine, [2.5, 4.0, 5.5]), atol=1e-3)
    np.testing.assert_allclose(rows["enhancing tumour"]["bbox_min_ras"], [30 - 0.9 * 3, 20 - 0.9 * 5, -5 + 1.1 * 4])
    np.testing.assert_allclose(rows["enhancing tumour"]["bbox_max_ras"], [30 - 0.9 * 2, 20 - 0.9 * 3, -5 + 1.1 * 7])
    assert rows["peritumoral oedema"]["voxels"] == 0 and rows["peritumoral oedema"]["centroid_ras"] is None


def test_two_d_reports_area_and_writer_files(tmp_path):
    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
        {"name": "lung", "value": 1, "color": [255, 0, 0]}]}})
    affine = np.diag([0.14, 0.2, 1.0, 1.0])
    reference = tmp_path / "cxr.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((20, 30, 1), np.float32), affine), reference)
    label = np.zeros((20, 30), np.uint8)
    label[:10, :7] = 1
    case = CaseFiles("cxr", (reference,))
    prediction = Prediction(case, label, np.zeros((2, 20, 30), np.float32), schema)
    json_path, csv_path = MeasurementWriter()(prediction, tmp_path / "out")
    document = json.loads(json_path.read_text())
    (row,) = document["structures"]
    assert row["area_mm2"] == pytest.approx(70 * 0.14 * 0.2) and "volume_ml" not in row
    assert document["image"] == str(reference.resolve())
    assert csv_path.read_text().splitlines()[1].startswith("lung,1,70,,1.9600,")


def test_overlapping_structures_are_measured_with_their_overlap():
    schema = LabelSchema.from_metadata({"medseg": {"mode": "overlapping", "labels": [
        {"name": "right lung", "value": 1, "color": [200, 80, 80]},
        {"name": "right clavicle", "value": 2, "color": [80, 80, 200]}], "channels": [
        {"name": "right lung", "values": [1], "paint": 1}, {"name": "right clavicle", "values": [2], "paint": 2}]}})
    masks = np.zeros((2, 12, 10), bool)
    masks[0, 2:10, 2:8] = True  # 48 pixels of lung
    masks[1, 1:4, 1:9] = True  # 24 pixels of clavicle, 12 of them over the lung
    label = schema.channels_to_label_map(masks)
    rows = measure_label(label, np.diag([0.5, 0.5, 1.0, 1.0]), schema, masks)
    assert [(r["structure"], r["voxels"], r["area_mm2"]) for r in rows] == [
        ("right lung", 48, 12.0), ("right clavicle", 24, 6.0)]
    assert (label == 1).sum() == 36  # what the painted label map alone would have reported
