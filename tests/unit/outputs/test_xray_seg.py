"""DICOM SEG for a DICOM X-ray: one segment per structure, overlaps kept, on the image's own pixel matrix."""

import numpy as np
import pydicom
import pytest
from PIL import Image

from medseg.errors import MedsegWarning
from medseg.io.read import CaseFiles
from medseg.labels import LabelSchema
from medseg.outputs.prediction import Prediction
from medseg.outputs.xray_seg import XRayDicomSegWriter
from tests.xray_helpers import seg_frames, write_dicom

SCHEMA = LabelSchema.from_bundle("bundles/chest_xray")


def _masks() -> np.ndarray:
    masks = np.zeros((5, 10, 6), dtype=bool)  # (C, x = columns, y = rows)
    masks[0, 1:4, 1:5] = True  # right lung, image left
    masks[3, 2:5, 1:2] = True  # right clavicle overlaps the right lung
    masks[2, 6:9, 3:5] = True  # heart
    return masks


def _prediction(path, masks, schema=SCHEMA) -> Prediction:
    return Prediction(CaseFiles("cxr", (path,)), schema.channels_to_label_map(masks), masks.astype(np.float32),
                      schema, masks)


def test_overlapping_structures_become_segments_on_the_dicom_pixels(tmp_path):
    source = write_dicom(tmp_path / "cxr.dcm", np.full((6, 10), 900, dtype=np.uint16), PixelSpacing=[0.25, 0.5])
    masks = _masks()
    (path,) = XRayDicomSegWriter(algorithm="chest_xray", version="0.3")(_prediction(source, masks), tmp_path / "out")
    assert path == tmp_path / "out" / "cxr_seg.dcm"
    seg = pydicom.dcmread(path)
    assert seg.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and seg.SegmentationType == "BINARY"
    assert (seg.Rows, seg.Columns) == (6, 10)  # the X-ray's own matrix
    frames = seg_frames(path)
    assert set(frames) == {"right lung", "right clavicle", "heart"}  # the absent structures get no segment
    np.testing.assert_array_equal(frames["right lung"], masks[0].T)
    np.testing.assert_array_equal(frames["right clavicle"], masks[3].T)  # overlap with the lung kept
    np.testing.assert_array_equal(frames["heart"], masks[2].T)
    uid = pydicom.dcmread(source).SOPInstanceUID
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == uid
    sources = {f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
               for f in seg.PerFrameFunctionalGroupsSequence}
    assert sources == {uid}
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert [float(v) for v in measures.PixelSpacing] == [0.25, 0.5]
    assert seg.ManufacturerModelName == "chest_xray" and seg.SoftwareVersions == "0.3"
    codes = {s.SegmentLabel: s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning for s in seg.SegmentSequence}
    assert codes["heart"] == "Heart"


def test_imager_pixel_spacing_only_and_region_channels_are_named(tmp_path):
    schema = LabelSchema.from_metadata({"medseg": {"mode": "overlapping", "labels": [
        {"name": "lung", "value": 1, "color": [0, 0, 255]}, {"name": "nodule", "value": 2, "color": [255, 0, 0]}],
        "channels": [{"name": "lung field", "values": [1, 2], "paint": 1},
                     {"name": "nodule", "values": [2], "paint": 2}]}})
    source = write_dicom(tmp_path / "dx.dcm", np.zeros((6, 10), np.uint16), ImagerPixelSpacing=[0.2, 0.2])
    masks = np.zeros((2, 10, 6), bool)
    masks[0, 1:9, 1:5] = masks[1, 3:5, 2:4] = True
    (path,) = XRayDicomSegWriter()(_prediction(source, masks, schema), tmp_path)
    frames = seg_frames(path)
    assert set(frames) == {"lung field", "nodule"}  # the region is named by its channel, not its paint label
    np.testing.assert_array_equal(frames["lung field"], masks[0].T)


def test_png_inputs_and_empty_predictions_write_no_seg(tmp_path):
    Image.fromarray(np.zeros((6, 10), np.uint8)).save(tmp_path / "cxr.png")
    assert XRayDicomSegWriter()(_prediction(tmp_path / "cxr.png", _masks()), tmp_path / "out") == []
    source = write_dicom(tmp_path / "cxr.dcm", np.zeros((6, 10), np.uint16), PixelSpacing=[0.25, 0.5])
    with pytest.warns(MedsegWarning, match="no structure found"):
        assert XRayDicomSegWriter()(_prediction(source, np.zeros((5, 10, 6), bool)), tmp_path / "out") == []
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_highdicom_reads_the_seg_back_with_sides_coded(tmp_path):
    import highdicom as hd

    source = write_dicom(tmp_path / "cxr.dcm", np.full((6, 10), 900, dtype=np.uint16), PixelSpacing=[0.25, 0.5])
    (path,) = XRayDicomSegWriter()(_prediction(source, _masks()), tmp_path / "out")
    seg = hd.seg.segread(path)  # needs Pixel Measures with SliceThickness
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert [float(v) for v in measures.PixelSpacing] == [0.25, 0.5] and float(measures.SliceThickness) == 0.25
    modifier = "SegmentedPropertyTypeModifierCodeSequence"
    sides = {s.SegmentLabel: [(m.CodeValue, m.CodeMeaning) for m in s.SegmentedPropertyTypeCodeSequence[0].get(
        modifier, [])] for s in seg.SegmentSequence}
    assert sides == {"right lung": [("24028007", "Right")], "right clavicle": [("24028007", "Right")], "heart": []}


@pytest.mark.real_data
def test_a_real_cr_without_pixel_spacing_gets_no_invented_spacing(shared_data, tmp_path):
    """RG1_UNCR.dcm stores PixelSpacing 0\\0: the SEG says the same, not the 1 mm medseg measures with."""
    import highdicom as hd

    from medseg.io.xray import read_xray_grid

    source = shared_data / "dicom" / "cr_chest_pydicom_data" / "RG1_UNCR.dcm"
    with pytest.warns(MedsegWarning, match="no usable PixelSpacing"):
        (columns, rows), _ = read_xray_grid(source)
    masks = np.zeros((5, columns, rows), bool)
    masks[1, 900:1400, 400:1500] = True  # left lung, image right
    (path,) = XRayDicomSegWriter()(_prediction(source, masks), tmp_path / "out")
    seg = hd.seg.segread(path)
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert [float(v) for v in measures.PixelSpacing] == [0.0, 0.0]
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence[
        0].CodeMeaning == "Left"
