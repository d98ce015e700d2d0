"""X-ray outputs: NIfTI on the X-ray's pixel grid (X×Y×1, qform = sform, code 1), per-structure masks, overlay."""

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medseg.errors import OutputError
from medseg.io.read import CaseFiles
from medseg.labels import LabelSchema
from medseg.outputs.prediction import Prediction
from medseg.outputs.xray import OverlayWriter, StructureMaskWriter, XRayLabelWriter, xray_label_image
from tests.xray_helpers import write_dicom

SCHEMA = LabelSchema.from_bundle("bundles/chest_xray")


def _prediction(tmp_path) -> Prediction:
    path = write_dicom(tmp_path / "cxr.dcm", np.full((6, 10), 900, dtype=np.uint16), PixelSpacing=[0.25, 0.5])
    masks = np.zeros((5, 10, 6), dtype=bool)  # (C, x, y)
    masks[0, 1:4, 1:5] = True  # right lung, image left
    masks[3, 2:5, 1:2] = True  # right clavicle overlaps the right lung
    masks[2, 6:9, 3:5] = True
    return Prediction(CaseFiles("cxr", (path,)), SCHEMA.channels_to_label_map(masks), masks.astype(np.float32),
                      SCHEMA, masks)


def test_label_nifti_is_on_the_pixel_grid_with_qform_equal_sform(tmp_path):
    prediction = _prediction(tmp_path)
    (written,) = XRayLabelWriter()(prediction, tmp_path / "out")
    image = nib.load(written)
    assert image.shape == (10, 6, 1) and image.get_data_dtype() == np.uint8
    qform, qcode = image.header.get_qform(coded=True)
    sform, scode = image.header.get_sform(coded=True)
    assert qcode == scode == 1
    np.testing.assert_allclose(qform, sform)
    np.testing.assert_allclose(image.header.get_zooms()[:2], (0.5, 0.25))  # x = column spacing
    label = np.asarray(image.dataobj)[..., 0]
    assert label[2, 1] == 4  # clavicle painted over lung (schema precedence)
    assert label[1, 2] == 1 and label[7, 4] == 3 and label[0, 0] == 0


def test_each_structure_keeps_its_full_mask(tmp_path):
    prediction = _prediction(tmp_path)
    written = StructureMaskWriter()(prediction, tmp_path / "out")
    assert [p.name for p in written] == [f"cxr_{n}.nii.gz" for n in SCHEMA.channel_names]
    lung = np.asarray(nib.load(written[0]).dataobj)[..., 0]
    np.testing.assert_array_equal(lung.astype(bool), prediction.masks[0])  # overlap with the clavicle kept


def test_overlay_png_is_written(tmp_path):
    (written,) = OverlayWriter()(_prediction(tmp_path), tmp_path / "out")
    image = Image.open(written)
    assert image.format == "PNG" and len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)) > 5


def test_wrong_shape_is_refused(tmp_path):
    prediction = _prediction(tmp_path)
    with pytest.raises(OutputError, match="does not match the X-ray grid"):
        xray_label_image(prediction.label.T, prediction.case.reference)
