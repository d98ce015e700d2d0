"""``medseg label serve`` end to end: a real MONAI Label server on 127.0.0.1, driven by MONAI Label's own client
(what 3D Slicer's MONAI Label module calls): info, datastore, Run (infer), Submit Label, Next Sample, Train.

The server runs as ``python -m medseg label serve`` on a free loopback port and is stopped by the fixture;
every client call is bounded by a socket timeout, and waits for start-up and training by deadlines.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.cli_helpers import run

pytest.importorskip("monailabel", reason="MONAI Label not installed (pip install 'medseg[label]')")
from monailabel.client import MONAILabelClient  # noqa: E402
from monailabel.client.client import MONAILabelClientException  # noqa: E402

pytestmark = pytest.mark.slow
MODEL = "brain_tumor"
STUDY_IDS = ["phantom_006_oblique", "phantom_007_anisotropic", "phantom_008_ras", "phantom_009_lps"]
CALL_TIMEOUT_S = 300  # one request, an inference included
START_TIMEOUT_S = 300
TRAIN_TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in ("labels", ".medseg-label")}


@pytest.fixture(scope="module")
def served(tiny_run, tiny_dataset, tmp_path_factory):
    """(client, run dir, studies folder, digests of the studies' files before serving); the server stops after."""
    root = tmp_path_factory.mktemp("label_server")
    run_dir = root / "runs" / "tiny"
    shutil.copytree(tiny_run, run_dir)
    studies = root / "studies"
    (root / "client").mkdir()
    for study in STUDY_IDS:
        shutil.copytree(tiny_dataset.parent / study, studies / study)
    before = _digests(studies)
    port, log = _free_port(), root / "server.log"
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(CALL_TIMEOUT_S)
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "medseg", "label", "serve", str(run_dir), "--studies",
                                   str(studies), "--port", str(port), "--device", "cpu", "--time-limit", "5"],
                                  stdout=out, stderr=subprocess.STDOUT)
    client = MONAILabelClient(f"http://127.0.0.1:{port}", tmpdir=str(root / "client"))  # Slicer has its own too
    try:
        _wait_for_start(client, server, log)
        yield client, run_dir, studies, before
    finally:
        socket.setdefaulttimeout(previous_timeout)
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)


def _wait_for_start(client, server, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            client.info()
            return
        except (ConnectionError, OSError, MONAILabelClientException):
            time.sleep(1)
    pytest.fail(f"the server did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def _medseg_infer(run_dir: Path, study: Path, out: Path) -> Path:
    result = run("infer", run_dir, "--input", study, "--output-dir", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    return out / f"{study.name}_seg.nii.gz"


def _assert_same_mask(served_file: str, written: Path) -> None:
    ours, theirs = nib.load(served_file), nib.load(written)
    assert np.array_equal(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
    assert ours.header.binaryblock == theirs.header.binaryblock  # qform, sform, codes, pixdim, dtype: all of it


def _submit(client, studies: Path, study: str) -> dict:
    """Submit the phantom's own ground truth as the corrected label (it lies on the study's grid)."""
    return client.save_label(study, str(studies / study / f"{study}_seg.nii.gz"), tag="final")


def test_info_lists_the_model_with_the_bundles_labels_and_colours(served):
    client, run_dir, _, _ = served
    info = client.info()
    model = info["models"][MODEL]
    assert model["type"] == "segmentation" and model["dimension"] == 3
    assert model["labels"] == {"necrotic tumour core": 1, "peritumoral oedema": 2, "enhancing tumour": 4}
    assert model["label_colors"] == {"necrotic tumour core": [230, 60, 50], "peritumoral oedema": [90, 200, 80],
                                     "enhancing tumour": [250, 220, 40]}
    assert model["run"] == str(run_dir.resolve())
    assert list(info["strategies"]) == ["uncertainty", "random"] and MODEL in info["trainers"]


def test_datastore_shows_each_study_by_its_t1ce(served):
    client, _, studies, _ = served
    objects = client.datastore()["objects"]
    assert sorted(objects) == STUDY_IDS
    for study, entry in objects.items():
        assert entry["image"]["info"]["path"] == str((studies / study / f"{study}_t1ce.nii.gz").resolve())


def test_run_returns_the_mask_medseg_infer_writes(served, tmp_path):
    client, run_dir, studies, _ = served
    study = STUDY_IDS[0]  # oblique: qform and sform carry a rotation
    served_file, params = client.infer(MODEL, study, {})
    assert params["run"] == str(run_dir.resolve()) and params["label_names"]["enhancing tumour"] == 4
    _assert_same_mask(served_file, _medseg_infer(run_dir, studies / study, tmp_path))
    with pytest.raises(MONAILabelClientException, match="Status: 422.*not a study of this server"):
        client.infer(MODEL, str(studies / study / f"{study}_seg.nii.gz"), {})  # a path: only studies are served


def test_bad_labels_are_refused_in_one_line_and_nothing_is_written(served, tmp_path):
    client, _, studies, _ = served
    study = STUDY_IDS[1]
    truth = nib.load(studies / study / f"{study}_seg.nii.gz")
    data = np.asarray(truth.dataobj).astype(np.int16)
    wrong_values = data.copy()
    wrong_values[data == 4] = 3
    shifted = truth.affine.copy()
    shifted[:3, 3] += truth.affine[:3, 2]
    cases = {
        "values": (nib.Nifti1Image(wrong_values, truth.affine, truth.header), "label values [3] are not in the schema"),
        "shape": (nib.Nifti1Image(data[:-1], truth.affine, truth.header), "voxels, the image it labels"),
        "grid": (nib.Nifti1Image(data, shifted), f"not on the grid of {study}_t1ce.nii.gz"),
    }
    for name, (image, message) in cases.items():
        nib.save(image, tmp_path / f"{name}.nii.gz")
        with pytest.raises(MONAILabelClientException) as refused:
            client.save_label(study, str(tmp_path / f"{name}.nii.gz"), tag="final")
        text = refused.value.msg
        assert "Status: 422" in text and f"medseg: error: label for study '{study}': " in text and message in text
        assert "\\n" not in text.split("medseg: error:")[1]
    with pytest.raises(MONAILabelClientException, match="only reviewed labels"):
        client.save_label(study, str(studies / study / f"{study}_seg.nii.gz"), tag="original")
    assert not (studies / "labels" / "final" / f"{study}.nii.gz").exists()
    assert client.datastore()["objects"][study]["labels"] == {}


def test_submitted_labels_are_stored_on_the_shown_grid_and_next_sample_is_unlabelled(served):
    client, _, studies, _ = served
    labelled = STUDY_IDS[:2]
    for study in labelled:
        assert _submit(client, studies, study) == {"image": study, "label": study}
        stored = nib.load(studies / "labels" / "final" / f"{study}.nii.gz")
        shown = nib.load(studies / study / f"{study}_t1ce.nii.gz")
        truth = nib.load(studies / study / f"{study}_seg.nii.gz")
        assert np.array_equal(np.asarray(stored.dataobj), np.asarray(truth.dataobj))
        assert np.array_equal(stored.get_qform(), shown.get_qform()) and np.array_equal(stored.affine, shown.affine)
    assert client.info()["datastore"] == {"total": 4, "completed": 2, "label_tags": {"final": 2}}
    for strategy in ("uncertainty", "random"):
        sample = client.next_sample(strategy, {})
        assert sample["id"] in STUDY_IDS[2:], sample
        assert sample["path"].endswith(f"{sample['id']}_t1ce.nii.gz")
    scores = client.next_sample("uncertainty", {})
    assert scores["entropy"] >= 0


def test_train_fine_tunes_a_new_run_that_is_then_served(served, tmp_path):
    client, run_dir, studies, _ = served
    for study in STUDY_IDS[:2]:  # two corrected studies: one trains, one is held out for the validation Dice
        if not (studies / "labels" / "final" / f"{study}.nii.gz").exists():
            _submit(client, studies, study)
    old_weights = hashlib.sha256((run_dir / "models" / "model.pt").read_bytes()).hexdigest()
    started = client.train_start(MODEL, {"epochs": 1, "time_limit_min": 5})
    assert started["status"] in ("SUBMITTED", "RUNNING")
    deadline, status = time.monotonic() + TRAIN_TIMEOUT_S, {}
    while time.monotonic() < deadline:
        status = client.train_status()
        if status.get("status") not in ("SUBMITTED", "RUNNING"):
            break
        time.sleep(2)
    details = "\n".join(status.get("details", []))
    assert status.get("status") == "DONE", details[-3000:]
    assert "epoch 1/1: loss" in details and "validation Dice" in details and "now serving it" in details
    new_runs = sorted(run_dir.parent.glob("tiny-corrected-*"))
    assert len(new_runs) == 1 and (new_runs[0] / "models" / "model.pt").is_file()
    new_run = new_runs[0].resolve()
    assert hashlib.sha256((run_dir / "models" / "model.pt").read_bytes()).hexdigest() == old_weights
    info = client.info()
    assert info["models"][MODEL]["run"] == str(new_run)
    stats = info["train_stats"][MODEL]
    assert stats["run"] == str(new_run) and stats["epoch"] == 1 and 0 <= stats["best_metric"] <= 1
    study = STUDY_IDS[3]
    served_file, params = client.infer(MODEL, study, {})
    assert params["run"] == str(new_run)
    _assert_same_mask(served_file, _medseg_infer(new_run, studies / study, tmp_path))


def test_no_study_file_was_written(served):
    _, _, studies, before = served
    assert _digests(studies) == before
