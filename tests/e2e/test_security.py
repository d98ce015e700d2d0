"""Nothing hidden in a downloaded file runs: pickled checkpoints are refused, foreign bundles need --trust."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from medseg.bundles import find_bundle
from medseg.cli import main
from medseg.errors import BundleError, CheckpointError
from medseg.locations import REPO_BUNDLES
from medseg.runs import LAST, create_run_bundle
from medseg.trust import is_trusted
from tests.conftest import TINY

PACKAGE = Path(__file__).resolve().parents[2] / "medseg"


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result, result.output.strip().splitlines()


def test_every_torch_load_in_the_package_is_weights_only():
    calls = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                weights_only = {k.arg: ast.unparse(k.value) for k in node.keywords}.get("weights_only")
                calls.append((path.name, weights_only))
    assert calls and all(flag == "True" for _, flag in calls), calls


def _payload(marker: Path):
    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return Payload()


def test_resume_from_a_checkpoint_with_a_pickle_payload_runs_nothing(tmp_path):
    from medseg.data.synthetic import write_demo_dataset

    data = write_demo_dataset(tmp_path / "data", n_train=1, n_val=0, n_test=0, spacing=8.0)
    run = create_run_bundle(find_bundle("brain_tumor"), tmp_path / "run", {**TINY, "datalist": str(data)}).root
    marker = tmp_path / "PAYLOAD_RAN"
    (run / LAST).parent.mkdir(parents=True)
    torch.save({"format": 2, "model": _payload(marker)}, run / LAST)
    result, lines = invoke("train", "--resume", run, "--device", "cpu")
    assert result.exit_code == 1 and len(lines) == 1
    assert "checkpoint_last.pt: refusing to load checkpoint" in lines[0]
    assert not marker.exists()


def test_load_checkpoint_refuses_a_payload_directly(tmp_path):
    from medseg.engine.checkpoint import load_checkpoint

    marker = tmp_path / "PAYLOAD_RAN"
    torch.save([_payload(marker)], tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(tmp_path / "x.pt")
    assert not marker.exists()


@pytest.fixture()
def downloaded(tmp_path) -> tuple[Path, Path]:
    """A copy of brain_tumor from 'the internet' whose inference config creates a file when it runs."""
    root = Path(shutil.copytree(REPO_BUNDLES / "brain_tumor", tmp_path / "downloaded"))
    marker = tmp_path / "CONFIG_CODE_RAN"
    config = json.loads((root / "configs" / "inference.json").read_text())
    config["sw_batch_size"] = f"$open({str(marker)!r}, 'w').close() or 1"
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    return root, marker


def test_a_bundle_from_elsewhere_is_refused_until_trusted(downloaded, tmp_path):
    root, marker = downloaded
    result, lines = invoke("infer", root, "--input", tmp_path, "--output-dir", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert str(root) in lines[0] and "configs run Python code" in lines[0] and "--trust" in lines[0]
    assert not marker.exists()

    result, _ = invoke("infer", root, "--input", tmp_path, "--output-dir", tmp_path / "out", "--device", "cpu",
                       "--trust")
    assert marker.exists()  # with --trust its code runs (then it stops: the copy has no trained model)


def test_training_from_a_foreign_bundle_needs_trust(downloaded, tmp_path):
    root, marker = downloaded
    result, lines = invoke("train", root, "--demo", "--output-dir", tmp_path / "run", "--device", "cpu")
    assert result.exit_code == 1 and "--trust" in lines[0]
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_run_directories_are_sealed_and_edits_break_the_seal(tmp_path, monkeypatch):
    run = create_run_bundle(find_bundle("brain_tumor"), tmp_path / "run", dict(TINY)).root
    assert is_trusted(run)
    assert is_trusted(shutil.copytree(run, tmp_path / "moved"))  # the seal covers contents, not the location

    config = run / "configs" / "inference.json"
    config.write_text(config.read_text().replace('"sw_batch_size": 1', '"sw_batch_size": 2'))
    assert not is_trusted(run)
    with pytest.raises(BundleError, match="configs run Python code"):
        find_bundle(run).parser("inference")

    result, lines = invoke("bundle", "trust", run)
    assert result.exit_code == 0 and "sealed" in lines[0]
    assert is_trusted(run)

    monkeypatch.setenv("MEDSEG_CONFIG", str(tmp_path / "another_user"))
    assert not is_trusted(run)  # a seal made with someone else's key means nothing here
    assert is_trusted(REPO_BUNDLES / "brain_tumor")


def test_an_unwritable_config_folder_leaves_runs_unsealed_but_training_goes_on(tmp_path, monkeypatch):
    (tmp_path / "config").write_text("a file where the config folder should be\n")
    monkeypatch.setenv("MEDSEG_CONFIG", str(tmp_path / "config"))
    run = create_run_bundle(find_bundle("brain_tumor"), tmp_path / "run", dict(TINY)).root
    assert not is_trusted(run)
    run.joinpath("configs", ".medseg-seal").write_text("0" * 64 + "\n")  # a forged seal, with no key here
    assert not is_trusted(run)


def _sealed_copy(tmp_path: Path, inference_change) -> Path:
    """A copy of brain_tumor whose inference config is changed, then sealed (``medseg bundle trust``)."""
    root = Path(shutil.copytree(REPO_BUNDLES / "brain_tumor", tmp_path / "sealed"))
    config = json.loads((root / "configs" / "inference.json").read_text())
    inference_change(root, config)
    (root / "configs" / "inference.json").write_text(json.dumps(config))
    result, _ = invoke("bundle", "trust", root)
    assert result.exit_code == 0
    return root


def test_a_file_pulled_in_by_a_macro_is_sealed_too(tmp_path):
    """``%configs/parts.json::sw`` reads another file: editing it breaks the seal, so its code never runs."""
    marker = tmp_path / "MACRO_CODE_RAN"

    def use_parts(root, config):
        (root / "configs" / "parts.json").write_text(json.dumps({"sw": 1}))
        config["sw_batch_size"] = f"%{root / 'configs' / 'parts.json'}::sw"

    root = _sealed_copy(tmp_path, use_parts)
    assert find_bundle(root).parser("inference").get_parsed_content("sw_batch_size") == 1
    (root / "configs" / "parts.json").write_text(json.dumps({"sw": f"$open({str(marker)!r}, 'w').close() or 1"}))
    result, lines = invoke("infer", root, "--input", tmp_path / "case", "--output-dir", tmp_path / "out")
    assert result.exit_code == 1 and len(lines) == 1 and "--trust" in lines[0] and str(root) in lines[0]
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_macro_file_outside_configs_is_refused_even_when_sealed(tmp_path):
    def use_outside(root, config):
        (tmp_path / "parts.json").write_text(json.dumps({"sw": 1}))
        config["sw_batch_size"] = f"%{tmp_path / 'parts.json'}::sw"

    root = _sealed_copy(tmp_path, use_outside)
    with pytest.raises(BundleError, match=r"parts.json through a MONAI '%' macro, which the seal does not cover"):
        find_bundle(root).parser("inference")
    assert find_bundle(root).parser("inference", trust=True).get_parsed_content("sw_batch_size") == 1


def test_imported_modules_are_sealed_or_refused(tmp_path, monkeypatch):
    """``$import helper`` and ``_target_: helper.X``: a module of the bundle is sealed, one from elsewhere refused."""
    marker = tmp_path / "IMPORT_CODE_RAN"

    def use_helper(root, config):
        (root / "helper.py").write_text("SW = 1\n")
        config["imports"] = [*config.get("imports", []), "$import helper"]
        config["sw_batch_size"] = "$helper.SW"

    root = _sealed_copy(tmp_path, use_helper)
    monkeypatch.syspath_prepend(str(root))
    assert find_bundle(root).parser("inference").get_parsed_content("sw_batch_size") == 1
    (root / "helper.py").write_text(f"open({str(marker)!r}, 'w').close()\nSW = 1\n")
    with pytest.raises(BundleError, match="--trust"):
        find_bundle(root).parser("inference")
    assert not marker.exists()

    elsewhere = tmp_path / "site"
    elsewhere.mkdir()
    (elsewhere / "lurking.py").write_text("class Net: ...\n")
    monkeypatch.syspath_prepend(str(elsewhere))

    def use_target(root, config):
        config["network_def"] = {"_target_": "lurking.Net"}

    shutil.rmtree(root)
    root = _sealed_copy(tmp_path, use_target)
    with pytest.raises(BundleError, match=r"imports 'lurking.Net' from .*lurking.py, outside the installed"):
        find_bundle(root).parser("inference")
