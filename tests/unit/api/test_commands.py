"""The API makes the decisions the CLI used to make, so a Python caller gets what the CLI gets."""

from __future__ import annotations

import subprocess
import sys

import pytest

import medseg
from medseg.errors import UsageError


def test_every_api_name_loads_and_the_package_imports_none_eagerly():
    import medseg.api as api

    for name in api.__all__:
        assert callable(getattr(api, name)), name
    code = ("import sys, medseg.api, medseg.api.bundles, medseg.api.datasets, medseg.api.dicom; "
            "assert 'torch' not in sys.modules and 'monai' not in sys.modules, 'a light command imports torch'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_plan_of_a_bundle_that_does_not_plan_is_its_recipe_and_refuses_planning_options():
    answer = medseg.plan("chest_xray")
    assert answer.plan is None and answer.text.startswith("chest_xray: no plan")
    with pytest.raises(UsageError, match=r"^--data, --time-limit: not used: chest_xray does not plan") as refused:
        medseg.plan("chest_xray", data="x.json", time_limit=10)
    assert refused.value.exit_code == 2


def test_predict_refuses_study_options_without_register_before_loading_anything(tmp_path):
    with pytest.raises(UsageError, match="need --register"):
        medseg.predict(tmp_path / "no_such_run", [tmp_path], tmp_path / "out", all_grids=True)


def test_bundle_commands_answer_as_data():
    from medseg.api import bundle_tasks, create_bundle, verify

    tasks = dict(bundle_tasks())
    assert {"brain_tumor", "chest_xray"} <= set(tasks) and all(tasks.values())
    assert verify("chest_xray").name == "chest_xray"
    with pytest.raises(UsageError, match="name the labels"):
        create_bundle("cells", "images", "masks")
