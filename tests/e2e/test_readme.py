"""The README's examples run as written (the Python API block with a tiny network and one epoch)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import TINY

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_every_file_the_examples_read_from_the_repository_is_shipped():
    repo = README.parent
    for block in _blocks("bash") + _blocks("python"):
        for path in re.findall(r"(?:data_manifests|bundles|benchmarks)/[\w./-]+\.(?:json|py)", block):
            written = re.search(rf"--output {re.escape(path)}", block)
            assert written or (repo / path).is_file(), f"README example needs {path}, which is not shipped"


@pytest.mark.slow
def test_the_python_api_example_runs(tmp_path, monkeypatch):
    import medseg

    (python,) = _blocks("python")
    train = medseg.train

    def small(*args, **kwargs):  # same call, a tiny network for one epoch, so the test stays fast
        return train(*args, **{**kwargs, "epochs": 1, "overrides": TINY, "device": "cpu", "progress": False})

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(medseg, "train", small, raising=False)
    namespace: dict = {}
    exec(compile(python, str(README), "exec"), namespace)  # noqa: S102 - the README's own example
    assert sorted(p.name for p in (tmp_path / "predictions").glob("*_seg.nii.gz"))
    assert (tmp_path / "runs" / "bt" / "models" / "model.pt").is_file()
