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
