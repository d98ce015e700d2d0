"""``medseg label serve`` refuses what it cannot serve in one line, and answers clients' mistakes in one line."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest

from medseg.bundle.find import find_bundle
from medseg.errors import BundleError, InputError
from medseg.label import server
from medseg.label.studies import Studies
from tests.cli_helpers import run


def _study(root, case="c1"):
    for sequence in ("t1", "t1ce", "t2", "flair"):
        (root / case).mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(np.zeros((9, 9, 9), np.float32), np.eye(4)), root / case / f"{case}_{sequence}.nii.gz")


def test_without_monai_label_the_install_command_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(server.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"MONAI Label is not installed: pip install 'medseg\[label\]'"):
        server.serve("brain_tumor", tmp_path)


def test_an_untrained_bundle_no_studies_or_no_time_are_refused(tiny_run, tmp_path):
    pytest.importorskip("monailabel")
    with pytest.raises(BundleError, match="not a trained run"):
        server.serve("brain_tumor", tmp_path)  # the shipped bundle has configs but no weights
    with pytest.raises(InputError, match="no studies in the folder"):
        server.serve(tiny_run, tmp_path)
    with pytest.raises(InputError, match="--time-limit must be positive"):
        server.serve(tiny_run, tmp_path, time_limit=0)


def test_the_cli_prints_one_line(tmp_path):
    pytest.importorskip("monailabel")
    result = run("label", "serve", "brain_tumor", "--studies", tmp_path / "absent")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"medseg: error: {find_bundle('brain_tumor').root}: not a trained run (no models/model.pt): serve a run "
        "directory that medseg train wrote"]


def test_the_workspace_holds_monai_labels_main_and_the_served_run(tiny_run, tmp_path):
    _study(tmp_path)
    workspace = server.prepare_workspace(Studies(tmp_path, find_bundle(tiny_run)), tiny_run)
    assert workspace == tmp_path.resolve() / ".medseg-label"
    assert "from medseg.label.app import MedsegApp" in (workspace / "main.py").read_text()
    assert json.loads((workspace / "served.json").read_text())["run"] == str(tiny_run)


@pytest.mark.parametrize("error, status, detail", [
    (InputError("label values [3] are not in the schema [1, 2, 4]", "label for study 'c1'"), 422,
     "medseg: error: label for study 'c1': label values [3] are not in the schema [1, 2, 4]"),
    (RuntimeError("applying transform"), 500, "medseg: error: RuntimeError: applying transform"),
])
def test_errors_come_back_as_one_line(error, status, detail):
    pytest.importorskip("fastapi")
    response = asyncio.run(server._error_response(SimpleNamespace(url=SimpleNamespace(path="/x")), error))
    assert response.status_code == status and json.loads(response.body) == {"detail": detail}


def test_a_medseg_error_wrapped_by_monai_is_dug_out():
    pytest.importorskip("fastapi")
    try:
        try:
            raise InputError("image is only 3 x 3 x 3 voxels", "c1_t1.nii.gz")
        except InputError as cause:
            raise RuntimeError("applying transform <LoadImaged>") from cause
    except RuntimeError as wrapped:
        response = asyncio.run(server._error_response(SimpleNamespace(url=SimpleNamespace(path="/x")), wrapped))
    assert response.status_code == 422
    assert json.loads(response.body)["detail"] == "medseg: error: c1_t1.nii.gz: image is only 3 x 3 x 3 voxels"
