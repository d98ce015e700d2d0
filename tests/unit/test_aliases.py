"""Old module names keep working (``medseg.aliases``): configs written before the stage packages still run.

``tests/fixtures/prelayout`` holds two tiny runs trained by medseg before the move (their configs name
the modules of that time), an input case each, and the label map medseg predicted for it then
(``make_fixture.py`` says how they were made).
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medseg.aliases import MOVED, current_name, new_module_name

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "prelayout"
# Names configs of older medseg call that no config in this repository writes any more (sealed runs keep them).
HISTORICAL = [
    "medseg.engine.planar.PlanarPredictor", "medseg.transforms.xray.inference_transforms",
    "medseg.transforms.xray.training_transforms", "medseg.transforms.xray.validation_transforms",
    "medseg.transforms.xray.LargestComponents", "medseg.io.planar_write.PlanarLabelWriter",
    "medseg.zoo.network.ChannelMapped", "medseg.zoo.preprocess.zoo_preprocessing",
    "medseg.postprocess.LargestComponents", "medseg.io.write.NiftiLabelWriter",
]


def _targets(node) -> list[str]:
    """Every ``_target_`` string of a config, at any depth."""
    if isinstance(node, dict):
        own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return own + [t for value in node.values() for t in _targets(value)]
    if isinstance(node, list):
        return [t for value in node for t in _targets(value)]
    return []


def _config_targets() -> list[str]:
    """medseg's ``_target_`` names in the fixture runs, the shipped bundles and the ``bundle new`` templates."""
    files = [*FIXTURE.rglob("configs/*.json"), *(REPO / "bundles").rglob("configs/*.json")]
    names = [t for path in files for t in _targets(json.loads(path.read_text()))]
    for template in (REPO / "medseg").rglob("*.json.tmpl"):
        names += re.findall(r'"_target_":\s*"([\w.]+)"', template.read_text())  # {{placeholders}}: not JSON yet
    return sorted({t for t in names if t.startswith("medseg.")})


def test_every_old_module_name_is_the_module_it_became():
    assert MOVED, "the alias table is empty"
    for old, new in MOVED.items():
        assert new_module_name(new) is None, f"{new} (where {old} went) is itself an old name"
        assert importlib.import_module(old) is importlib.import_module(new), old
        assert sys.modules[old].__spec__.name == new  # the module keeps its own spec


def test_a_name_below_a_moved_package_follows_it():
    packages = [old for old, new in MOVED.items() if hasattr(importlib.import_module(new), "__path__")]
    for old in packages:
        module = importlib.import_module(MOVED[old])
        for child in sorted(p.stem for p in Path(module.__path__[0]).glob("*.py") if p.stem != "__init__"):
            if f"{old}.{child}" not in MOVED:
                assert importlib.import_module(f"{old}.{child}") is importlib.import_module(f"{MOVED[old]}.{child}")


@pytest.mark.parametrize("name", sorted({*_config_targets(), *HISTORICAL}))
def test_every_target_in_configs_resolves_as_monai_resolves_it(name):
    from pydoc import locate  # what MONAI's ConfigComponent instantiates a dotted _target_ with

    found = locate(name)
    assert found is not None, name
    assert found == locate(current_name(name))  # a classmethod is a new bound method each time: equal, not identical


def test_an_unknown_old_name_is_still_an_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("medseg.engine.no_such_module")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["brain_tumor", "chest_xray"])
def test_a_run_trained_before_the_move_infers_the_same_labels(task, tmp_path):
    """Sealed, as medseg seals its runs, so every old name also passes the sealed-bundle import check."""
    import medseg
    from medseg.bundle.trust import seal

    run = shutil.copytree(FIXTURE / task / "run", tmp_path / "run")
    seal(run)
    case = next((FIXTURE / task / "case").iterdir())
    written = medseg.Predictor.from_bundle(run, device="cpu").predict_to_dir([case], tmp_path / "out", progress=False)
    label = nib.load(next(p for p in written if p.name.endswith("_seg.nii.gz")))
    expected = nib.load(FIXTURE / task / "expected_seg.nii.gz")
    np.testing.assert_array_equal(np.asarray(label.dataobj), np.asarray(expected.dataobj))
    np.testing.assert_array_equal(label.affine, expected.affine)
    assert label.header.get_qform(coded=True)[1] == expected.header.get_qform(coded=True)[1]
    assert label.header.get_sform(coded=True)[1] == expected.header.get_sform(coded=True)[1]


def test_old_names_work_in_a_fresh_interpreter():
    """What ``python -m monai.bundle run`` does with an old run: the old dotted path is the first import."""
    code = ("import pydoc, sys\n"
            "found = [pydoc.locate(name) for name in sys.argv[1:]]\n"
            "from medseg.aliases import current_name\n"
            "for name, obj in zip(sys.argv[1:], found):\n"
            "    assert obj is not None and obj == pydoc.locate(current_name(name)), name\n")
    result = subprocess.run([sys.executable, "-c", code, *HISTORICAL], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_run_trained_before_the_move_takes_a_new_time_budget(tmp_path):
    """``medseg train --resume RUN --time-limit`` on an old run: its trainer is named by its old module."""
    from medseg.bundle.runs import set_time_limit

    run = shutil.copytree(FIXTURE / "brain_tumor" / "run", tmp_path / "run")
    path = set_time_limit(run, 5)
    config = json.loads(path.read_text())
    assert config["trainer"]["_target_"] == "medseg.engine.train.Trainer" and config["time_limit_min"] == 5.0
