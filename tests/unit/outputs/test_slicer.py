"""``.seg.nrrd`` segments land on the NIfTI label's physical points, read back by pynrrd and SimpleITK."""

import nibabel as nib
import nrrd
import numpy as np
import pytest
import SimpleITK as sitk

from medseg.bundle.find import find_bundle
from medseg.labels import LabelSchema
from medseg.outputs.nifti import write_label_like
from medseg.outputs.slicer import color_table_text, write_color_table, write_seg_nrrd

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _oblique():
    a, b = np.deg2rad(23.0), np.deg2rad(11.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    affine = np.eye(4)
    affine[:3, :3] = rz @ rx @ np.diag([0.8, 1.1, 2.5])
    affine[:3, 3] = [-40.5, 12.25, 7.0]
    return affine


GRIDS = {
    "ras": (np.diag([1.0, 1.2, 2.0, 1.0]), (9, 8, 7)),
    "lps": (np.array([[-0.9, 0, 0, 30.0], [0, -0.9, 0, 20.0], [0, 0, 1.1, -5.0], [0, 0, 0, 1]]), (9, 8, 7)),
    "oblique": (_oblique(), (9, 8, 7)),
    "2d": (np.diag([0.14, 0.14, 1.0, 1.0]), (12, 10, 1)),
}


def _reference(tmp_path, affine, shape, qform=None, sform_code=1):
    image = nib.Nifti1Image(np.zeros(shape, np.float32), affine)
    image.header.set_qform(affine if qform is None else qform, code=1)
    image.header.set_sform(affine, code=sform_code)
    path = tmp_path / "ref.nii.gz"
    nib.save(image, path)
    return path


def _label(shape):
    rng = np.random.default_rng(3)
    label = rng.choice([0, 1, 2, 4], size=shape, p=[0.55, 0.15, 0.2, 0.1]).astype(np.uint8)
    label[0, 0, 0] = 4  # corner voxels catch off-by-one origins
    return label


def _sitk_points(image: sitk.Image, mask_zyx: np.ndarray) -> np.ndarray:
    """Physical points (LPS, mm) of a SimpleITK mask's voxels, sorted."""
    idx = np.argwhere(mask_zyx)[:, ::-1].astype(float)  # (x, y, z)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    points = (idx * np.array(image.GetSpacing())) @ direction.T + np.array(image.GetOrigin())
    return points[np.lexsort(points.T[::-1])]


def _nrrd_points_ras(header: dict, mask_xyz: np.ndarray) -> np.ndarray:
    directions = np.asarray(header["space directions"], float)[-3:]
    idx = np.argwhere(mask_xyz).astype(float)
    lps = idx @ directions + np.asarray(header["space origin"], float)
    return lps * [-1, -1, 1]


@pytest.fixture()
def schema():
    return find_bundle("brain_tumor").schema


@pytest.mark.parametrize("kind", sorted(GRIDS))
def test_segments_lie_on_the_nifti_label_voxels(tmp_path, schema, kind):
    affine, shape = GRIDS[kind]
    ref = _reference(tmp_path, affine, shape)
    label = _label(shape)
    nifti = write_label_like(label, ref, tmp_path / "case_seg.nii.gz")
    seg = write_seg_nrrd(label[..., 0] if kind == "2d" else label, ref, schema, tmp_path / "case.seg.nrrd")

    data, header = nrrd.read(str(seg))
    assert data.shape == (4, *shape)  # label layer + one layer per BraTS region
    nifti_image = nib.load(nifti)
    nifti_data = np.asarray(nifti_image.dataobj)
    fields = {k: v for k, v in header.items() if k.startswith("Segment")}
    names = [fields[f"Segment{i}_Name"] for i in range(6)]
    assert names == ["necrotic tumour core", "peritumoral oedema", "enhancing tumour", "WT", "TC", "ET"]
    assert len({fields[f"Segment{i}_ID"] for i in range(6)}) == 6
    for i in range(6):
        layer, value = int(fields[f"Segment{i}_Layer"]), int(fields[f"Segment{i}_LabelValue"])
        mask = data[layer] == value
        if i < 3:
            truth_mask = nifti_data == value
            colour = np.array(schema.color_of(value)) / 255
        else:
            region = schema.regions[i - 3]
            truth_mask = np.isin(nifti_data, region.values)
            colour = np.array(schema.color_of(region.paint)) / 255
        np.testing.assert_allclose([float(c) for c in fields[f"Segment{i}_Color"].split()], colour, atol=1e-6)
        assert mask.sum() == truth_mask.sum() > 0
        expected = nib.affines.apply_affine(nifti_image.affine, np.argwhere(truth_mask))
        np.testing.assert_allclose(_nrrd_points_ras(header, mask), expected, atol=1e-4)
        extent = [int(v) for v in fields[f"Segment{i}_Extent"].split()]
        hits = np.argwhere(mask)
        assert extent == [int(x) for pair in zip(hits.min(0), hits.max(0)) for x in pair]

    sitk_label = sitk.ReadImage(str(nifti))
    sitk_seg = sitk.ReadImage(str(seg))
    seg_array = sitk.GetArrayFromImage(sitk_seg)  # z, y, x, layer
    label_array = sitk.GetArrayFromImage(sitk_label)
    for value in (1, 2, 4):
        np.testing.assert_allclose(_sitk_points(sitk_seg, seg_array[..., 0] == value),
                                   _sitk_points(sitk_label, label_array == value), atol=1e-4)


def test_slicer_transform_is_used_when_qform_and_sform_differ(tmp_path, schema):
    """Slicer places a NIfTI by its qform here (sform_code 2); the segmentation must follow it."""
    affine, shape = GRIDS["oblique"]
    ref = _reference(tmp_path, affine, shape, qform=GRIDS["lps"][0], sform_code=2)
    label = _label(shape)
    nifti = write_label_like(label, ref, tmp_path / "case_seg.nii.gz")
    seg = write_seg_nrrd(label, ref, schema, tmp_path / "case.seg.nrrd")
    sitk_label, sitk_seg = sitk.ReadImage(str(nifti)), sitk.ReadImage(str(seg))
    np.testing.assert_allclose(sitk_seg.GetOrigin(), sitk_label.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(sitk_seg.GetDirection(), sitk_label.GetDirection(), atol=1e-6)
    np.testing.assert_allclose(sitk_seg.GetSpacing(), sitk_label.GetSpacing(), atol=1e-6)


def test_exclusive_schema_is_one_layer(tmp_path):
    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
        {"name": "right lung", "value": 1, "color": [10, 20, 30]},
        {"name": "heart", "value": 2, "color": [200, 0, 0]}]}})
    affine, shape = GRIDS["lps"]
    ref = _reference(tmp_path, affine, shape)
    label = np.zeros(shape, np.uint8)
    label[2:4, 3:6, 1] = 2
    data, header = nrrd.read(str(write_seg_nrrd(label, ref, schema, tmp_path / "x.seg.nrrd")))
    np.testing.assert_array_equal(data, label)
    assert header["Segment0_Extent"] == "0 -1 0 -1 0 -1"  # an empty segment, as Slicer writes it
    assert header["Segment1_Extent"] == "2 3 3 5 1 1"
    assert header["Segment1_Color"] == f"{200 / 255:.6g} 0 0"


def test_color_table(tmp_path, schema):
    text = color_table_text(schema)
    rows = [line.split() for line in text.splitlines() if not line.startswith("#")]
    assert rows == [["0", "background", "0", "0", "0", "0"],
                    ["1", "necrotic_tumour_core", "230", "60", "50", "255"],
                    ["2", "peritumoral_oedema", "90", "200", "80", "255"],
                    ["4", "enhancing_tumour", "250", "220", "40", "255"]]
    assert write_color_table(schema, tmp_path / "labels.ctbl").read_text() == text


def test_overlapping_structures_keep_their_overlap_in_separate_layers(tmp_path):
    """A clavicle over a lung: the label map shows the clavicle there, the lung segment keeps it."""
    from medseg.io.read import CaseFiles
    from medseg.outputs.prediction import Prediction
    from medseg.outputs.slicer import SlicerSegWriter

    schema = LabelSchema.from_metadata({"medseg": {"mode": "overlapping", "labels": [
        {"name": "right lung", "value": 1, "color": [200, 80, 80]},
        {"name": "right clavicle", "value": 2, "color": [80, 80, 200]}], "channels": [
        {"name": "right lung", "values": [1], "paint": 1}, {"name": "right clavicle", "values": [2], "paint": 2}]}})
    affine, shape = GRIDS["2d"]
    ref = _reference(tmp_path, affine, shape)
    probabilities = np.zeros((2, 12, 10), np.float32)
    probabilities[0, 2:10, 2:8] = 0.9  # lung
    probabilities[1, 1:4, 1:9] = 0.8  # clavicle, overlapping the lung's top rows
    label = schema.channels_to_label_map(probabilities > 0.5)
    prediction = Prediction(CaseFiles("cxr", (ref,)), label, probabilities, schema)
    (seg,) = SlicerSegWriter()(prediction, tmp_path)
    data, header = nrrd.read(str(seg))
    assert data.shape == (2, 12, 10, 1)  # one layer per structure; no label-map layer
    assert [header[f"Segment{i}_Name"] for i in range(2)] == ["right lung", "right clavicle"]
    assert header["Segment1_Color"] == f"{80 / 255:.6g} {80 / 255:.6g} {200 / 255:.6g}"
    for i in range(2):
        layer = int(header[f"Segment{i}_Layer"])
        np.testing.assert_array_equal(data[layer, ..., 0] == 1, probabilities[i] > 0.5)  # overlap kept
    assert (label == 1).sum() < (probabilities[0] > 0.5).sum()
