"""2D label maps are palette PNGs: the pixel values are the label values, the palette the schema's colours."""

import numpy as np
from PIL import Image

from medseg.io.masks import read_stored
from medseg.io.read import CaseFiles
from medseg.labels import LabelSchema
from medseg.outputs.planar import PlanarLabelWriter
from medseg.outputs.prediction import Prediction


def test_written_png_keeps_values_and_shows_the_schema_colours(tmp_path):
    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "background": False, "labels": [
        {"name": "sky", "value": 0, "color": [128, 128, 128]}, {"name": "road", "value": 3, "color": [128, 64, 128]},
        {"name": "car", "value": 8, "color": [64, 0, 128]}]}})
    image = tmp_path / "frame.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(image)  # 6 wide, 4 high
    label = np.zeros((6, 4), np.uint8)  # (x, y) as MONAI's PILReader reads
    label[:, 2:] = 3
    label[1, 3] = 8
    prediction = Prediction(CaseFiles("frame", (image,)), label, np.zeros((3, 6, 4), np.float32), schema)
    (written,) = PlanarLabelWriter()(prediction, tmp_path / "out")
    png = Image.open(written)
    assert png.mode == "P" and png.size == (6, 4)
    np.testing.assert_array_equal(read_stored(written), label)  # indices are the values
    rgb = np.asarray(png.convert("RGB"))
    assert tuple(rgb[0, 0]) == (128, 128, 128) and tuple(rgb[3, 0]) == (128, 64, 128)
    assert tuple(rgb[3, 1]) == (64, 0, 128)


def test_overlay_blends_each_label_in_its_colour_and_measurements_cover_class_0(tmp_path):
    from medseg.outputs.measurements import MeasurementWriter, read_measurements
    from medseg.outputs.planar import PlanarOverlayWriter

    schema = LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "background": False, "labels": [
        {"name": "sky", "value": 0, "color": [0, 0, 255]}, {"name": "road", "value": 3, "color": [255, 0, 0]}]}})
    image = tmp_path / "frame.png"
    Image.fromarray(np.full((4, 6, 3), 100, np.uint8)).save(image)
    label = np.zeros((6, 4), np.uint8)
    label[:, 2:] = 3  # the lower two rows are road, the rest sky
    prediction = Prediction(CaseFiles("frame", (image,)), label, np.zeros((2, 6, 4), np.float32), schema)
    (overlay,) = PlanarOverlayWriter(alpha=0.5)(prediction, tmp_path / "out")
    rgb = np.asarray(Image.open(overlay))
    assert tuple(rgb[0, 0]) == (50, 50, 178) and tuple(rgb[3, 5]) == (178, 50, 50)
    MeasurementWriter()(prediction, tmp_path / "out")
    document = read_measurements(tmp_path / "out" / "frame_measurements.json")
    rows = {row["structure"]: row for row in document["structures"]}
    assert rows["sky"]["voxels"] == 12 and rows["road"]["voxels"] == 12  # sky is measured over the whole image
