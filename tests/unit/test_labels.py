import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import BundleError, InputError
from medseg.labels import LabelSchema


@pytest.fixture()
def brats():
    return find_bundle("brain_tumor").schema


def test_brats_schema_is_overlapping_regions(brats):
    assert brats.mode == "overlapping"
    assert brats.label_values == (1, 2, 4)
    assert brats.channel_names == ("WT", "TC", "ET")
    assert brats.num_channels == 3


def test_regions_round_trip_to_brats_label_values(brats):
    label = np.array([[0, 1, 2, 4]])  # channel-first label map (1, 4)
    channels = brats.label_map_to_channels(label)
    assert channels.shape == (3, 4)
    np.testing.assert_array_equal(channels[0], [0, 1, 1, 1])  # WT = 1, 2, 4
    np.testing.assert_array_equal(channels[1], [0, 1, 0, 1])  # TC = 1, 4
    np.testing.assert_array_equal(channels[2], [0, 0, 0, 1])  # ET = 4
    np.testing.assert_array_equal(brats.channels_to_label_map(channels > 0.5), label[0])


def test_unknown_label_value_names_the_file(brats):
    with pytest.raises(InputError, match=r"\[3\]") as info:
        brats.check_label_values(np.array([0, 1, 3]), "case_seg.nii.gz")
    assert "case_seg.nii.gz" in str(info.value)


def test_exclusive_schema_argmax_and_one_hot():
    meta = {"medseg": {"mode": "exclusive", "labels": [
        {"name": "a", "value": 1, "color": [1, 2, 3]}, {"name": "b", "value": 5, "color": [4, 5, 6]}]}}
    schema = LabelSchema.from_metadata(meta)
    assert schema.num_channels == 3
    np.testing.assert_array_equal(schema.argmax_to_label_map(np.array([0, 1, 2])), [0, 1, 5])
    one_hot = schema.label_map_to_channels(np.array([5, 0, 1]))
    np.testing.assert_array_equal(one_hot.argmax(0), [2, 0, 1])


def test_invalid_schema_is_refused():
    with pytest.raises(BundleError, match="unique and non-zero"):
        LabelSchema.from_metadata({"medseg": {"mode": "exclusive", "labels": [
            {"name": "a", "value": 0, "color": [0, 0, 0]}]}})
    with pytest.raises(BundleError, match="undeclared"):
        LabelSchema.from_metadata({"medseg": {"mode": "overlapping", "labels": [
            {"name": "a", "value": 1, "color": [0, 0, 0]}],
            "channels": [{"name": "r", "values": [1, 2], "paint": 1}]}})


ROAD = {"medseg": {"mode": "exclusive", "background": False, "void": 255, "labels": [
    {"name": "sky", "value": 0, "color": [128, 128, 128]}, {"name": "road", "value": 1, "color": [128, 64, 128]},
    {"name": "car", "value": 7, "color": [64, 0, 128]}]}}


def test_schema_without_background_has_one_channel_per_class_and_0_is_a_class():
    schema = LabelSchema.from_metadata(ROAD)
    assert schema.num_channels == 3 and schema.first_label == 0
    assert schema.channel_names == ("sky", "road", "car")
    np.testing.assert_array_equal(schema.argmax_to_label_map(np.array([0, 1, 2])), [0, 1, 7])
    assert schema.crop_ratios() == [1.0, 1.0, 1.0]


def test_void_pixels_get_no_target_channel_and_are_allowed_in_label_maps():
    schema = LabelSchema.from_metadata(ROAD)
    channels = schema.label_map_to_channels(np.array([0, 255, 7, 1]))
    np.testing.assert_array_equal(channels, [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    schema.check_label_values(np.array([0, 1, 7, 255]))
    with pytest.raises(InputError, match=r"\[3\]"):
        schema.check_label_values(np.array([0, 3]))
    np.testing.assert_array_equal(schema.annotated(np.array([0, 255])), [True, False])


def test_void_value_must_not_be_a_label_and_background_false_is_exclusive_only():
    meta = {"medseg": {**ROAD["medseg"], "void": 7}}
    with pytest.raises(BundleError, match="void value 7"):
        LabelSchema.from_metadata(meta)
    with pytest.raises(BundleError, match="exclusive"):
        LabelSchema.from_metadata({"medseg": {"mode": "overlapping", "background": False, "labels": [
            {"name": "a", "value": 1, "color": [0, 0, 0]}], "channels": [{"name": "r", "values": [1], "paint": 1}]}})
