"""A run's time budget lives in its own ``train.json`` for every bundle (3D, 2D, chest X-ray, a ``bundle new``
bundle from before budgets), so ``--resume`` and ``python -m monai.bundle run`` keep it."""

import json
import shutil

import pytest

from medseg.bundle.find import Bundle, find_bundle
from medseg.bundle.runs import create_run_bundle, set_time_limit
from medseg.bundle.trust import is_trusted
from medseg.errors import BundleError


def _budget(run: Bundle) -> tuple[float | None, str]:
    parser = run.parser("inference", "train")
    return parser.get_parsed_content("trainer#time_limit"), parser.get("trainer#time_limit")


@pytest.mark.parametrize("name", ["brain_tumor", "chest_xray"])
def test_every_shipped_bundle_writes_the_time_limit_into_its_run(name, tmp_path):
    run = create_run_bundle(find_bundle(name), tmp_path / "run", {}, time_limit=3)
    assert _budget(run) == (3.0, "@time_limit_min") and is_trusted(run.root)
    untimed = create_run_bundle(find_bundle(name), tmp_path / "untimed", {})
    assert _budget(untimed)[0] is None


def test_a_bundle_without_the_key_gets_it_in_its_run(tmp_path):
    old = shutil.copytree(find_bundle("chest_xray").root, tmp_path / "old")
    path = old / "configs" / "train.json"
    config = json.loads(path.read_text())
    del config["time_limit_min"], config["trainer"]["time_limit"]  # as `bundle new` wrote them before budgets
    path.write_text(json.dumps(config))
    run = create_run_bundle(Bundle(old), tmp_path / "run", {"epochs": 5}, time_limit=2.5)
    assert _budget(run) == (2.5, "@time_limit_min") and is_trusted(run.root)
    assert json.loads((run.root / "configs" / "train.json").read_text())["epochs"] == 5


def test_a_new_total_budget_keeps_a_sealed_run_sealed_and_an_unsealed_one_unsealed(tmp_path):
    run = create_run_bundle(find_bundle("chest_xray"), tmp_path / "run", {}, time_limit=3)
    set_time_limit(run.root, 10)
    assert _budget(run)[0] == 10.0 and is_trusted(run.root)
    (run.root / "configs" / ".medseg-seal").unlink()
    set_time_limit(run.root, 12)
    assert not is_trusted(run.root)  # medseg does not vouch for configs it did not check


def test_a_trainer_that_is_not_medseg_s_is_refused(tmp_path):
    foreign = shutil.copytree(find_bundle("chest_xray").root, tmp_path / "foreign")
    path = foreign / "configs" / "train.json"
    config = json.loads(path.read_text())
    config["trainer"]["_target_"] = "somewhere.Else"
    path.write_text(json.dumps(config))
    with pytest.raises(BundleError, match="takes no time limit"):
        set_time_limit(foreign, 3)


@pytest.mark.parametrize("minutes", [0, -2, float("nan")])
def test_a_bad_budget_never_reaches_a_run_s_configs(minutes, tmp_path):
    import medseg
    from medseg.errors import InputError

    run = create_run_bundle(find_bundle("chest_xray"), tmp_path / "run", {}, time_limit=3)
    before = (run.root / "configs" / "train.json").read_text()
    with pytest.raises(InputError, match="positive number of minutes"):
        medseg.train(resume=run.root, time_limit=minutes, device="cpu")
    assert (run.root / "configs" / "train.json").read_text() == before
