import json
import shutil

import pytest

from medseg.bundle.find import find_bundle, list_bundles, parse_overrides, verify_bundle
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


def test_api_refuses_tta_a_bundle_does_not_declare():
    """Flips are not guessed (they would swap left and right): the API refuses, not only the CLI."""
    from medseg.inference.predictor import Predictor

    with pytest.raises(BundleError, match="declares no test-time augmentation"):
        Predictor.from_bundle("chest_xray", device="cpu", tta=True)


def test_api_resume_checks_the_bundle(tmp_path):
    import medseg
    from medseg.bundle.runs import create_run_bundle
    from medseg.errors import InputError

    run = create_run_bundle(find_bundle("brain_tumor"), tmp_path / "run", {"epochs": 1}).root
    with pytest.raises(InputError, match="was not trained from bundle 'chest_xray'"):
        medseg.train("chest_xray", resume=run, device="cpu")


def test_bundle_copy_writes_overrides_through_the_parser_and_seals(tmp_path):
    from medseg.bundle.trust import is_trusted

    source = find_bundle("brain_tumor")
    copy = source.copy_to(tmp_path / "copy", {"epochs": 3, "network_def#strides#0": 1, "roi_size": [32, 32, 32]})
    train = json.loads((copy.root / "configs" / "train.json").read_text())
    inference = json.loads((copy.root / "configs" / "inference.json").read_text())
    assert train["epochs"] == 3 and inference["network_def"]["strides"][0] == 1
    assert inference["roi_size"] == [32, 32, 32]
    assert {p.as_posix() for p in copy.files()} == {p.as_posix() for p in source.files()} | {"configs/.medseg-seal"}
    assert is_trusted(copy.root) and copy.files(weights=True) == copy.files()  # no weights yet
    with pytest.raises(BundleError, match="unknown --override key 'nope'"):
        source.copy_to(tmp_path / "other", {"nope": 1})


def test_nested_overrides_never_edit_the_callers_dict():
    """A whole sub-config given as an override, then one of its keys: the caller's dict stays as it was
    (the shared test overrides once came back with spatial_dims 2 after a 2D test)."""
    network = {"_target_": "monai.networks.nets.BasicUNet", "spatial_dims": 3, "in_channels": 4, "out_channels": 3}
    overrides = {"network_def": network, "network_def#spatial_dims": 2}
    parser = find_bundle("brain_tumor").parser("inference", overrides=overrides)
    assert parser.get("network_def#spatial_dims") == 2
    assert network["spatial_dims"] == 3


def test_a_link_out_of_a_bundle_is_never_copied(tmp_path):
    """A bundle's ``docs/README.md`` -> /etc/passwd is refused by the run copy and the zip, not copied."""
    from medseg.bundle.export import zip_bundle
    from medseg.bundle.runs import create_run_bundle

    root = shutil.copytree(find_bundle("brain_tumor").root, tmp_path / "linked")
    (root / "docs" / "README.md").unlink()
    (root / "docs" / "README.md").symlink_to("/etc/passwd")
    with pytest.raises(BundleError, match="docs/README.md is a link to /etc/passwd, outside the bundle"):
        create_run_bundle(find_bundle(root), tmp_path / "run", {})
    (root / "models").mkdir()
    (root / "models" / "model.pt").write_bytes(b"weights")
    with pytest.raises(BundleError, match="outside the bundle"):
        zip_bundle(root, tmp_path / "shared.zip")
    assert not (tmp_path / "run").exists() and not (tmp_path / "shared.zip").exists()


def test_verifying_a_bundle_logs_monai_steps_only_when_medseg_logs_debug():
    """verify_metadata logs its steps at INFO on stdout (bundle new printed them); --debug shows them."""
    import logging

    from monai.bundle.scripts import logger as monai_logger

    records: list[logging.LogRecord] = []
    catcher = logging.Handler()
    catcher.emit = records.append
    medseg_log, level = logging.getLogger("medseg"), logging.getLogger("medseg").level
    monai_logger.addHandler(catcher)
    try:
        medseg_log.setLevel(logging.NOTSET)
        verify_bundle(find_bundle("chest_xray"))
        assert records == [] and monai_logger.level == logging.INFO  # held back, then restored
        medseg_log.setLevel(logging.DEBUG)
        verify_bundle(find_bundle("chest_xray"))
        assert any("verify_metadata" in r.getMessage() for r in records)
    finally:
        monai_logger.removeHandler(catcher)
        medseg_log.setLevel(level)
