"""The wheel is whole: built from the sources, installed (not editable) into a fresh environment outside
the repository, it holds every module and data file, every module imports, and ``medseg infer`` works.

The fresh environment borrows the test environment's installed dependencies (reinstalling torch would
take minutes) through a ``.pth`` line, written after the wheel is installed so pip never sees the
editable medseg. A ``.pth`` line adds a folder to ``sys.path`` without running that folder's own
``.pth`` files, so the editable install's finder never loads and ``import medseg`` can only find the
wheel's copy. ``PYTHONUSERBASE`` names the test environment, so its packages count as the user's
installed packages (as after ``pip install --user``), which is where medseg's trust check lets a
config import modules from (``medseg.bundle.trust``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.cli_helpers import run

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "medseg", "bundles")  # what an sdist holds
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")

# Walk the installed package (not a hand list): import every module, say where medseg came from. A module
# of an optional extra whose dependency is not installed (MONAI Label) is listed with the module it lacks.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
import medseg, medseg_bundles
names = sorted(m.name for m in pkgutil.walk_packages(medseg.__path__, "medseg.") if m.name != "medseg.__main__")
lacking = {}
for name in names:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "medseg").split(".")[0] in ("medseg", "medseg_bundles"):
            raise
        lacking[name] = exc.name
print(json.dumps({"modules": names, "lacking": lacking, "medseg": medseg.__file__,
                  "bundles": list(medseg_bundles.__path__)}))
"""


def _repo_files(folder: str) -> set[str]:
    root = REPO / folder
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the fresh environment's ``bin``) for a wheel built from a clean copy of the sources
    (a stale ``build/`` in the checkout could otherwise slip deleted files into it)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=IGNORE)
        else:
            shutil.copy2(path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # offline with this environment's setuptools when it has one (a Python 3.12+ venv has none: pip fetches it)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([*pip, "wheel", "--no-deps", *isolation, "-w", str(work / "dist"), str(source)],
                   check=True, cwd=work)
    (wheel,) = (work / "dist").glob("medseg-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True, cwd=work)
    fresh_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     check=True, capture_output=True, text=True).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    assert sysconfig.get_path("purelib", f"{os.name}_user", {"userbase": sys.prefix}) in ours  # see _fresh_env
    (fresh_site / "medseg_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return wheel, venv / "bin"


def _fresh_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PYTHONUSERBASE": sys.prefix}


@pytest.mark.slow
def test_wheel_holds_every_module_and_data_file(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    in_wheel = {n.removeprefix("medseg/") for n in names if n.startswith("medseg/")}
    assert _repo_files("medseg") - in_wheel == set()
    bundles = {n.removeprefix("medseg_bundles/") for n in names if n.startswith("medseg_bundles/")}
    assert _repo_files("bundles") - bundles == set()
    assert {"brain_tumor/configs/inference.json", "chest_xray/docs/README.md", "brain_tumor/LICENSE"} <= bundles


@pytest.mark.slow
def test_installed_wheel_imports_every_module_and_infers(installed, tiny_run, tiny_dataset, tmp_path):
    _, bin_dir = installed
    env = _fresh_env()
    done = subprocess.run([str(bin_dir / "python"), "-c", IMPORT_ALL], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    venv = bin_dir.parent
    assert Path(found["medseg"]).is_relative_to(venv) and Path(found["bundles"][0]).is_relative_to(venv)
    expected = {"medseg." + ".".join(Path(p).with_suffix("").parts).removesuffix(".__init__")
                for p in _repo_files("medseg") if p.endswith(".py")} - {"medseg.__init__", "medseg.__main__"}
    assert set(found["modules"]) == expected
    for module, dependency in found["lacking"].items():  # an optional extra this environment lacks too
        assert importlib.util.find_spec(dependency.split(".")[0]) is None, f"{module} cannot import {dependency}"
    assert "medseg.study.register" in found["modules"]  # the package the hand list once missed

    medseg = str(bin_dir / "medseg")
    listed = subprocess.run([medseg, "bundle", "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {"brain_tumor", "chest_xray"} <= {line.split("\t")[0] for line in listed.stdout.splitlines()}

    case = tiny_dataset.parent / "phantom_009_lps"
    out = tmp_path / "wheel_out"
    done = subprocess.run([medseg, "infer", str(tiny_run), "--input", str(case), "--output-dir", str(out),
                           "--device", "cpu"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = run("infer", tiny_run, "--input", case, "--output-dir", tmp_path / "repo_out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "repo_out").iterdir())
    wheel_label = np.asarray(nib.load(out / "phantom_009_lps_seg.nii.gz").dataobj)
    repo_label = np.asarray(nib.load(tmp_path / "repo_out" / "phantom_009_lps_seg.nii.gz").dataobj)
    np.testing.assert_array_equal(wheel_label, repo_label)
