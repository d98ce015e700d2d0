"""2D prediction on an X-ray: resize to the network size inverted onto the original pixel grid, masks kept."""

import numpy as np
import torch
from monai.networks.nets import UNet
from PIL import Image

from medseg.data.inputs import resolve_case
from medseg.inference.postprocessing import LargestComponents
from medseg.inference.predictor import Predictor
from medseg.labels import LabelSchema
from medseg.transforms.planar import inference_transforms
from tests.xray_helpers import chest_phantom


def test_prediction_lies_on_the_xray_grid_with_postprocessed_masks(tmp_path):
    image, _ = chest_phantom(70, 50, np.random.default_rng(0))
    Image.fromarray(image).save(tmp_path / "cxr.png")
    torch.manual_seed(0)
    network = UNet(2, 1, 5, (4, 8), (2,), num_res_units=0)
    schema = LabelSchema.from_bundle("bundles/chest_xray")
    chain = inference_transforms(1, (32, 32), "radiograph")
    predictor = Predictor(network, schema, chain, roi_size=(32, 32), device="cpu", postprocess=LargestComponents())
    case = resolve_case(tmp_path / "cxr.png", ["xray"])
    prediction = predictor.predict(case)
    assert prediction.probabilities.shape == (5, 50, 70)  # channels, columns, rows of the PNG
    assert prediction.masks.shape == (5, 50, 70) and prediction.masks.dtype == bool
    np.testing.assert_array_equal(prediction.masks, LargestComponents()(prediction.probabilities > 0.5))
    np.testing.assert_array_equal(prediction.label, schema.channels_to_label_map(prediction.masks))
