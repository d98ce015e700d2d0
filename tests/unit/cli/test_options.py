"""Nonsense numbers are one-line usage errors naming the option, before any work starts."""

import re

import pytest

from tests.cli_helpers import run


@pytest.mark.parametrize("args, option", [
    (["train", "brain_tumor", "--time-limit", "nan"], "--time-limit"),
    (["train", "brain_tumor", "--time-limit", "0"], "--time-limit"),
    (["train", "brain_tumor", "--time-limit", "-5"], "--time-limit"),
    (["train", "brain_tumor", "--time-limit", "inf"], "--time-limit"),
    (["train", "brain_tumor", "--gpu-memory-gb", "0"], "--gpu-memory-gb"),
    (["train", "brain_tumor", "--gpu-memory-gb", "-8"], "--gpu-memory-gb"),
    (["plan", "brain_tumor", "--gpu-memory-gb", "nan"], "--gpu-memory-gb"),
    (["plan", "brain_tumor", "--gpu-memory-gb", "inf"], "--gpu-memory-gb"),
    (["plan", "brain_tumor", "--time-limit", "-1"], "--time-limit"),
    (["train", "brain_tumor", "--epochs", "0"], "--epochs"),
    (["train", "brain_tumor", "--nproc", "0"], "--nproc"),
    (["train", "brain_tumor", "--fold", "-1"], "--fold"),
    (["evaluate", "--pred", "p", "--truth", "t", "--bundle", "brain_tumor", "--tolerance-mm", "nan"],
     "--tolerance-mm"),
    (["data", "import", "folder", "src", "--task", "brain_tumor", "--output", "m.json", "--test-fraction", "1"],
     "--test-fraction"),
    (["data", "import", "folder", "src", "--task", "brain_tumor", "--output", "m.json", "--folds", "0"], "--folds"),
    (["bundle", "new", "x", "--from-folder", "i", "m", "--labels", "a", "--image-size", "-3"], "--image-size"),
])
def test_nonsense_numbers_are_one_line_usage_errors_naming_the_option(args, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medseg: error: ") and f"'{option}'" in lines[0]
    assert not any(tmp_path.iterdir())  # nothing was written


def test_other_usage_errors_are_one_line_too():
    result = run("train", "brain_tumor", "--cache", "bogus")
    assert result.exit_code == 2
    assert re.fullmatch(r"medseg: error: Invalid value for '--cache': 'bogus' is not one of 'auto', 'disk', "
                        r"'memory', 'none'\. \(see \w+ train --help\)", result.output.strip())
