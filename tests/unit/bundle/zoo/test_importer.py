"""import_zoo on the zoo's real brats_mri_segmentation configs: mapping, trust, and what is refused."""

from __future__ import annotations

import json

import pytest
import torch

from medseg.bundle.find import find_bundle, verify_bundle
from medseg.bundle.trust import is_trusted
from medseg.bundle.zoo import import_zoo
from medseg.bundle.zoo.network import ChannelMapped
from medseg.errors import BundleError, CheckpointError, OutputError
from tests.zoo_helpers import write_zoo_weights, zoo_folder


@pytest.fixture
def zoo(tmp_path):
    root = zoo_folder(tmp_path / "zoo")
    write_zoo_weights(root)
    return root


def _edit(root, name, change):
    path = root / "configs" / name
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_brats_maps_zoo_channels_onto_medseg_modalities_and_brats_regions(zoo, tmp_path):
    result = import_zoo(zoo, tmp_path / "out")
    bundle = find_bundle(result.root)
    meta = bundle.metadata
    assert bundle.name == "brats_mri_segmentation" and meta["zoo_name"] == "BraTS MRI segmentation"
    assert bundle.modalities == ["t1", "t1ce", "t2", "flair"]
    assert [(c.name, c.values, c.paint) for c in bundle.schema.channels] == [
        ("WT", (1, 2, 4), 2), ("TC", (1, 4), 1), ("ET", (4,), 4)]
    assert meta["zoo"]["input_order"] == [1, 0, 2, 3] and meta["zoo"]["output_order"] == [1, 0, 2]
    fmt = meta["network_data_format"]
    assert list(fmt["inputs"]["image"]["channel_def"].values()) == ["T1", "T1c", "T2", "FLAIR"]
    assert list(fmt["outputs"]["pred"]["channel_def"].values()) == ["Whole tumor", "Tumor core", "Enhancing tumor"]
    assert meta["eval_metrics"]["val_mean_dice"] == 0.8518  # the zoo's own figure, kept as the zoo's
    verify_bundle(bundle)
    config = json.loads((result.root / "configs" / "inference.json").read_text())
    assert config["network_def"]["network"]["_target_"] == "monai.networks.nets.SegResNet"
    assert config["roi_size"] == [240, 240, 160] and config["sw_overlap"] == 0.5
    assert config["preprocessing"]["steps"] == [
        {"_target_": "monai.transforms.NormalizeIntensityd", "keys": "image", "nonzero": True, "channel_wise": True}]
    assert config["preprocessing"]["axcodes"] == "LPS"
    assert config["tta"] is None  # the zoo declares no test-time augmentation; medseg does not guess flips
    state = torch.load(result.root / "models" / "model.pt", weights_only=True)
    assert all(key.startswith("network.") for key in state)


def test_the_zoo_code_is_listed_and_only_the_written_bundle_is_trusted(zoo, tmp_path):
    result = import_zoo(zoo, tmp_path / "out")
    assert is_trusted(result.root) and not is_trusted(zoo)
    not_run = {e.text for e in result.not_run}
    assert "$@evaluator.run()" in not_run
    assert any(text.startswith("$lambda x: torch.where") for text in not_run)
    assert not any(e.key == "network_def" for e in result.not_run)
    assert result.imported[0].startswith("network_def: monai.networks.nets.SegResNet")
    readme = (result.root / "docs" / "README.md").read_text()
    assert "$@evaluator.run()" in readme and "val_mean_dice 0.8518" in readme


def test_channel_mapped_feeds_and_orders_channels():
    class Probe(torch.nn.Module):  # output channel c = input channel c (first three)
        def forward(self, x):
            return x[:, :3]

    x = torch.arange(4.0).reshape(1, 4, 1, 1, 1)  # medseg order t1=0, t1ce=1, t2=2, flair=3
    out = ChannelMapped(Probe(), [1, 0, 2, 3], [1, 0, 2])(x)
    # zoo inputs T1c, T1, T2 -> zoo outputs (1, 0, 2) -> medseg order (zoo 1, zoo 0, zoo 2) = (0, 1, 2)
    assert out.flatten().tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("change, message", [
    (lambda c: c["network_def"].update(init_filters="$16 * 2"), "Python expression"),
    (lambda c: c["network_def"].update(_target_="mypackage.nets.Evil"), "only networks of monai.networks.nets"),
    (lambda c: c["preprocessing"]["transforms"].append(
        {"_target_": "Lambdad", "keys": "image", "func": "$lambda x: x"}), "preprocessing step Lambdad"),
])
def test_code_in_the_imported_parts_is_refused(zoo, tmp_path, change, message):
    _edit(zoo, "inference.json", change)
    with pytest.raises(BundleError, match=message):
        import_zoo(zoo, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_weights_of_another_network_are_refused_in_one_line(zoo, tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, zoo / "models" / "model.pt")
    with pytest.raises(CheckpointError, match="does not fit") as caught:
        import_zoo(zoo, tmp_path / "out")
    assert "\n" not in str(caught.value)


def test_missing_weights_version_and_occupied_output_are_refused(zoo, tmp_path):
    with pytest.raises(BundleError, match="version 0.4.2, not 0.5.0"):
        import_zoo(zoo, tmp_path / "out", version="0.5.0")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(OutputError, match="not an empty folder"):
        import_zoo(zoo, tmp_path / "busy")
    (zoo / "models" / "model.pt").unlink()
    with pytest.raises(BundleError, match="no models/model.pt"):
        import_zoo(zoo, tmp_path / "out")


def test_a_zoo_bundle_whose_channels_differ_from_the_table_is_refused(zoo, tmp_path):
    _edit(zoo, "metadata.json", lambda m: m["network_data_format"]["outputs"]["pred"]["channel_def"].update(
        {"0": "Necrosis"}))
    with pytest.raises(BundleError, match="expects"):
        import_zoo(zoo, tmp_path / "out")


def test_an_unknown_bundle_is_mapped_with_a_note_of_what_was_guessed(zoo, tmp_path):
    unknown = zoo.rename(zoo.parent / "my_glioma_model")
    _edit(unknown, "metadata.json", lambda m: m.update(name="My glioma model"))
    result = import_zoo(unknown, tmp_path / "out")
    assert len(result.notes) == 1 and "guessed" in result.notes[0]
    bundle = find_bundle(result.root)
    assert bundle.modalities == ["t1ce", "t1", "t2", "flair"]  # zoo order, names through the alias groups
    assert [(c.name, c.values) for c in bundle.schema.channels] == [
        ("Tumor core", (1,)), ("Whole tumor", (2,)), ("Enhancing tumor", (3,))]
    assert bundle.metadata["zoo"]["notes"] == result.notes


def test_a_name_is_fetched_through_monai_bundle_download(zoo, tmp_path, monkeypatch):
    import shutil

    import monai.bundle

    calls = []

    def fake_download(name, version, bundle_dir, **kwargs):  # MONAI's signature; no internet in tests
        calls.append((name, version))
        shutil.copytree(zoo, f"{bundle_dir}/{name}")

    monkeypatch.setattr(monai.bundle, "download", fake_download)
    result = import_zoo("brats_mri_segmentation", tmp_path / "out", version="0.4.2")
    assert calls == [("brats_mri_segmentation", "0.4.2")]
    assert "monai.bundle.download(name='brats_mri_segmentation'" in find_bundle(result.root).metadata["zoo"]["source"]

    def offline(**kwargs):
        raise ConnectionError("Temporary failure in name resolution")

    monkeypatch.setattr(monai.bundle, "download", offline)
    with pytest.raises(BundleError, match="cannot download zoo bundle.*name resolution"):
        import_zoo("brats_mri_segmentation", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_monai_download_steps_are_logged_only_when_medseg_logs_debug(zoo, tmp_path, monkeypatch):
    """MONAI logs each download step at INFO on stdout; they are internals unless --debug set medseg's log to DEBUG."""
    import logging
    import shutil

    import monai.bundle
    from monai.bundle.scripts import logger as monai_logger

    def fake_download(name, version, bundle_dir, **kwargs):  # logs through MONAI's own logger, as the real one does
        monai_logger.info("--- input summary of monai.bundle.scripts.download ---")
        shutil.copytree(zoo, f"{bundle_dir}/{name}")

    records: list[logging.LogRecord] = []
    catcher = logging.Handler()
    catcher.emit = records.append
    monkeypatch.setattr(monai.bundle, "download", fake_download)
    medseg_log, level = logging.getLogger("medseg"), logging.getLogger("medseg").level
    monai_logger.addHandler(catcher)
    try:
        medseg_log.setLevel(logging.NOTSET)
        import_zoo("brats_mri_segmentation", tmp_path / "quiet")
        assert records == [] and monai_logger.level == logging.INFO  # held back during the download, then restored
        medseg_log.setLevel(logging.DEBUG)
        import_zoo("brats_mri_segmentation", tmp_path / "debug")
        assert [r.getMessage() for r in records] == ["--- input summary of monai.bundle.scripts.download ---"]
    finally:
        monai_logger.removeHandler(catcher)
        medseg_log.setLevel(level)


def test_what_monai_bundle_download_needs_is_declared_and_installed():
    """MONAI imports requests and huggingface_hub optionally: without them a download fails half-way."""
    from pathlib import Path

    import tomllib
    from monai.bundle import scripts
    from monai.utils import optional_import

    pyproject = tomllib.loads((Path(__file__).parents[4] / "pyproject.toml").read_text())
    declared = {entry.split(">")[0].split("=")[0].strip() for entry in pyproject["project"]["dependencies"]}
    assert {"requests", "huggingface_hub"} <= declared
    assert scripts.has_requests and optional_import("huggingface_hub")[1]
