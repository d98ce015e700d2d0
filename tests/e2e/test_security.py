"""Nothing hidden in a downloaded file runs: pickled checkpoints are refused, foreign bundles need --trust."""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from medseg.bundle.find import find_bundle
from medseg.bundle.runs import LAST, create_run_bundle
from medseg.bundle.trust import is_trusted
from medseg.cli import main
from medseg.errors import BundleError, CheckpointError
from medseg.locations import REPO_BUNDLES
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
    from medseg.runtime.checkpoint import load_checkpoint

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


def test_a_metadata_macro_to_a_file_outside_configs_is_refused(tmp_path):
    """Attack 3: metadata ``%``-including a file outside ``configs/`` was trusted; editing that file then ran code."""
    marker = tmp_path / "METADATA_MACRO_RAN"
    outside = tmp_path / "versions.json"
    outside.write_text(json.dumps({"v": "0.1.0"}))
    root = _sealed_copy(tmp_path, lambda root, config: None)
    meta = json.loads((root / "configs" / "metadata.json").read_text())
    meta["version"] = f"%{outside}::v"
    (root / "configs" / "metadata.json").write_text(json.dumps(meta))
    assert invoke("bundle", "trust", root)[0].exit_code == 0 and is_trusted(root)
    with pytest.raises(BundleError, match=r"metadata.json: 'version' is a MONAI '%' macro"):
        find_bundle(root).parser("inference")
    outside.write_text(json.dumps({"v": f"$open({str(marker)!r}, 'w').close() or '0.1.0'"}))
    result, lines = invoke("infer", root, "--input", tmp_path / "case", "--output-dir", tmp_path / "out")
    assert result.exit_code == 1 and len(lines) == 1 and "metadata.json" in lines[0], result.output
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_code_in_any_bundles_metadata_is_refused_without_trust(tmp_path):
    """Metadata is data in every bundle medseg runs unasked: a ``$`` value there is refused even when sealed."""
    marker = tmp_path / "METADATA_CODE_RAN"
    root = _sealed_copy(tmp_path, lambda root, config: None)
    meta = json.loads((root / "configs" / "metadata.json").read_text())
    meta["version"] = f"$open({str(marker)!r}, 'w').close() or '0.1.0'"
    (root / "configs" / "metadata.json").write_text(json.dumps(meta))
    assert invoke("bundle", "trust", root)[0].exit_code == 0
    with pytest.raises(BundleError, match=r"metadata.json: 'version' is a Python expression"):
        find_bundle(root).parser("inference")
    assert not marker.exists()


def _module_name(tmp_path: Path) -> str:
    return f"helper_{abs(hash(str(tmp_path))) % 10**8}"  # one per test: sys.modules keeps what was imported


def test_a_module_found_only_after_a_sys_path_change_is_refused(tmp_path):
    """Attack 4: ``sys.path.insert`` inside a ``$`` expression hid the module from the include check."""
    marker, name = tmp_path / "PATH_MODULE_RAN", _module_name(tmp_path)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\nSW = 1\n")
    expression = f"$__import__('sys').path.insert(0, {str(lib)!r}) or __import__({name!r}).SW"
    root = _sealed_copy(tmp_path, lambda root, config: config.update(sw_batch_size=expression))
    with pytest.raises(BundleError, match=rf"imports '{name}', which cannot be found"):
        find_bundle(root).parser("inference")
    assert not marker.exists()


def test_a_sys_path_change_cannot_swap_a_sealed_module_for_another(tmp_path, monkeypatch):
    """The bundle holds a sealed ``helper``; the config puts another folder first: the other one is refused."""
    marker, name = tmp_path / "SWAPPED_MODULE_RAN", _module_name(tmp_path)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\nSW = 1\n")
    expression = f"$__import__('sys').path.insert(0, {str(lib)!r}) or __import__({name!r}).SW"

    def swap(root, config):
        (root / f"{name}.py").write_text("SW = 1\n")
        config.update(sw_batch_size=expression)

    root = _sealed_copy(tmp_path, swap)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the expression's insert is undone after the test
    parser = find_bundle(root).parser("inference")  # the module is found in the sealed bundle now
    with pytest.raises(BundleError, match=f"imports {name} from {lib / name}.py, which is neither installed"):
        parser.get_parsed_content("sw_batch_size")
    assert not marker.exists() and name not in sys.modules


def test_a_planted_bytecode_cache_never_runs(tmp_path, monkeypatch):
    """Attack 5: a ``__pycache__/*.pyc`` beside a sealed ``.py`` (same mtime and size) ran instead of the source."""
    import importlib
    import importlib.util
    from importlib._bootstrap_external import _code_to_timestamp_pyc

    marker, name = tmp_path / "PYC_RAN", _module_name(tmp_path)

    def use_scripts(root, config):
        (root / name).mkdir()
        for module in ("__init__", "helper", "later"):
            (root / name / f"{module}.py").write_text("SW = 1\n")
        config["imports"] = [*config.get("imports", []), f"$import {name}.helper as sealed_helper"]
        config["sw_batch_size"] = "$sealed_helper.SW"

    def plant(source: Path) -> Path:
        """A cache Python accepts for ``source`` (its mtime and size) whose code is not the source's."""
        evil = compile(f"open({str(marker)!r}, 'w').close()\nSW = 1\n", str(source), "exec")
        cache = Path(importlib.util.cache_from_source(str(source)))
        cache.parent.mkdir(exist_ok=True)
        cache.write_bytes(_code_to_timestamp_pyc(evil, int(source.stat().st_mtime), source.stat().st_size))
        return cache

    root = _sealed_copy(tmp_path, use_scripts)
    cache = plant(root / name / "helper.py")
    plant(root / name / "later.py")
    assert is_trusted(root)  # the seal covers sources; what Python loads must be those sources
    monkeypatch.syspath_prepend(str(root))

    def forget():
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]

    try:
        assert find_bundle(root).parser("inference").get_parsed_content("sw_batch_size") == 1
        assert not marker.exists()
        assert importlib.import_module(f"{name}.later").SW == 1  # imported later, while predicting: the same
        assert not marker.exists()
        (root / name / "planted.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
        with pytest.raises(BundleError, match="neither installed nor a sealed file"):
            importlib.import_module(f"{name}.planted")
        assert not marker.exists()
        (root / name / "planted.py").unlink()
        forget()
        shutil.rmtree(cache.parent)
        assert find_bundle(root).parser("inference").get_parsed_content("sw_batch_size") == 1
        assert not cache.parent.exists()  # nor is a cache written beside the sealed sources
    finally:
        forget()


def test_the_seal_key_is_never_readable_by_others(tmp_path, monkeypatch):
    """Issue 22.8: the key was written, then chmod-ed; no moment may exist where a file holding it is not 0600."""
    import os
    import stat

    import medseg.bundle.trust as trust

    folder = tmp_path / "config"
    monkeypatch.setenv("MEDSEG_CONFIG", str(folder))
    monkeypatch.setattr(trust.secrets, "token_bytes", lambda n: b"K" * n)
    seen = []

    def check(real):
        def wrapped(*args, **kwargs):
            for path in folder.glob("*") if folder.is_dir() else []:
                if path.is_file() and b"K" * 32 in path.read_bytes():
                    seen.append(stat.S_IMODE(path.stat().st_mode))
            return real(*args, **kwargs)
        return wrapped

    for call in ("chmod", "replace", "rename", "link"):
        monkeypatch.setattr(os, call, check(getattr(os, call)))
    old = os.umask(0o022)
    try:
        assert trust._key(create=True) == b"K" * 32
    finally:
        os.umask(old)
    assert seen and set(seen) == {0o600}
    assert stat.S_IMODE((folder / "seal.key").stat().st_mode) == 0o600
    monkeypatch.setattr(trust.secrets, "token_bytes", lambda n: b"L" * n)
    assert trust._key(create=True) == b"K" * 32  # an existing key is kept
