import json
import shutil

import pytest

from medseg.bundles import find_bundle, list_bundles, parse_overrides, verify_bundle
from medseg.errors import BundleError


def test_brain_tumor_is_listed_and_verifies_offline():
    assert "brain_tumor" in list_bundles()
    verify_bundle(find_bundle("brain_tumor"))


def test_verify_rejects_metadata_missing_a_required_key(tmp_path):
    copy = shutil.copytree(find_bundle("brain_tumor").root, tmp_path / "b")
    meta_path = copy / "configs" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["network_data_format"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="network_data_format"):
        verify_bundle(find_bundle(copy))


def test_verify_rejects_channel_count_that_disagrees_with_the_schema(tmp_path):
    copy = shutil.copytree(find_bundle("brain_tumor").root, tmp_path / "b")
    meta_path = copy / "configs" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["network_data_format"]["outputs"]["pred"]["num_channels"] = 4
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="label schema needs 3"):
        verify_bundle(find_bundle(copy))


def test_unknown_bundle_names_the_known_ones():
    with pytest.raises(BundleError, match="known bundles: .*brain_tumor"):
        find_bundle("no_such_task")


def test_overrides_parse_json_values_and_reject_unknown_keys():
    assert parse_overrides(["epochs=3", "roi_size=[1,2,3]", "device=cpu"]) == {
        "epochs": 3, "roi_size": [1, 2, 3], "device": "cpu"}
    with pytest.raises(BundleError, match="key=value"):
        parse_overrides(["epochs"])
    with pytest.raises(BundleError, match="unknown --override key 'epoch'"):
        find_bundle("brain_tumor").parser("inference", "train", overrides={"epoch": 3})
