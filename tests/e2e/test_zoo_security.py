"""A zoo bundle is data: nothing in its files runs through `bundle import-zoo` then `medseg infer` (issue 23).

Each test plants one attack in the zoo's real brats configs (``tests/fixtures/zoo``), runs the import
and, where the import writes a bundle, infers with it; the attack's marker file must never appear.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from medseg.cli import main
from tests.zoo_helpers import write_cube_case, write_zoo_weights, zoo_folder


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result, result.output.strip().splitlines()


def _edit(root: Path, name: str, change) -> None:
    path = root / "configs" / name
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def _import_then_infer(zoo: Path, tmp_path: Path) -> tuple[object, list[str]]:
    """``bundle import-zoo``; when it writes a bundle, ``infer`` a case with it too (the attack's second chance)."""
    result, lines = invoke("bundle", "import-zoo", zoo, "--output", tmp_path / "imported")
    if result.exit_code == 0:
        case = write_cube_case(tmp_path / "case01", np.eye(4))
        invoke("infer", tmp_path / "imported", "--input", case, "--output-dir", tmp_path / "pred", "--device", "cpu")
    return result, lines


@pytest.fixture
def zoo(tmp_path) -> Path:
    root = zoo_folder(tmp_path / "zoo")
    write_zoo_weights(root)
    return root


def test_a_component_in_a_preprocessing_argument_never_runs(zoo, tmp_path):
    """Attack 1: ``{"_target_": "os.system", ...}`` as an argument of a declared step (was imported, sealed, run)."""
    marker = tmp_path / "PREPROCESSING_ARG_RAN"
    _edit(zoo, "inference.json", lambda c: c["preprocessing"]["transforms"][1].update(
        nonzero={"_target_": "os.system", "command": f"touch {marker}"}))
    result, lines = _import_then_infer(zoo, tmp_path)
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "preprocessing#transforms#1#nonzero" in lines[0] and "os.system" in lines[0]
    assert not marker.exists() and not (tmp_path / "imported").exists()


def test_special_keys_of_a_step_are_refused(zoo, tmp_path):
    """``_mode_``/``_requires_`` beside a step's ``_target_`` would make MONAI call or evaluate more than the step."""
    _edit(zoo, "inference.json", lambda c: c["preprocessing"]["transforms"][1].update(_mode_="debug"))
    result, lines = invoke("bundle", "import-zoo", zoo, "--output", tmp_path / "imported")
    assert result.exit_code == 1 and "_mode_" in lines[0], result.output


@pytest.mark.parametrize("value", [
    "$__import__('os').system('touch {marker}') or '0.4.2'",
    "%{macro}::v",
    "@network_def",
])
def test_metadata_values_are_data(zoo, tmp_path, value):
    """Attack 2: a ``$``, ``%`` or ``@`` metadata value was copied and evaluated at infer (``@_meta_#version``)."""
    marker = tmp_path / "METADATA_RAN"
    macro = tmp_path / "elsewhere.json"
    macro.write_text(json.dumps({"v": f"$__import__('os').system('touch {marker}') or '0.4.2'"}))
    _edit(zoo, "metadata.json", lambda m: m.update(version=value.format(marker=marker, macro=macro)))
    result, lines = _import_then_infer(zoo, tmp_path)
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "metadata.json" in lines[0] and "'version'" in lines[0]
    assert not marker.exists() and not (tmp_path / "imported").exists()


def test_code_deep_in_metadata_lists_and_keys_is_refused(zoo, tmp_path):
    marker = tmp_path / "METADATA_RAN"
    _edit(zoo, "metadata.json", lambda m: m.update(
        references=["a paper", {"_target_": "os.system", "command": f"touch {marker}"}]))
    result, lines = _import_then_infer(zoo, tmp_path)
    assert result.exit_code == 1 and "references#1" in lines[0], result.output
    _edit(zoo, "metadata.json", lambda m: m.pop("references") and m.update({"+medseg": {"modalities": ["x"]}}))
    result, lines = _import_then_infer(zoo, tmp_path)
    assert result.exit_code == 1 and "'+medseg'" in lines[0], result.output
    assert not marker.exists()


@pytest.mark.parametrize("link, target", [("LICENSE", "secret.txt"), ("docs/README.md", "/etc/passwd"),
                                          ("configs/extra.json", "secret.json")])
def test_links_out_of_the_zoo_folder_are_not_followed(zoo, tmp_path, link, target):
    """Attack 6: ``LICENSE`` -> any file, ``docs/README.md`` -> /etc/passwd were copied into the new bundle."""
    outside = Path(target) if os.path.isabs(target) else tmp_path / target
    if not outside.exists():
        outside.write_text('{"a": "SECRET CONTENTS"}' if target.endswith(".json") else "SECRET CONTENTS\n")
    (zoo / link).parent.mkdir(exist_ok=True)
    (zoo / link).symlink_to(outside)
    result, lines = invoke("bundle", "import-zoo", zoo, "--output", tmp_path / "imported")
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert link in lines[0] and "link" in lines[0] and str(outside) in lines[0]
    assert not (tmp_path / "imported").exists()


def test_a_link_inside_the_zoo_folder_is_fine(zoo, tmp_path):
    (zoo / "docs").mkdir()
    (zoo / "docs" / "license.txt").write_text("Apache 2.0\n")
    (zoo / "LICENSE").symlink_to(zoo / "docs" / "license.txt")
    result, _ = invoke("bundle", "import-zoo", zoo, "--output", tmp_path / "imported")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "imported" / "LICENSE").read_text() == "Apache 2.0\n"
    assert not (tmp_path / "imported" / "LICENSE").is_symlink()
