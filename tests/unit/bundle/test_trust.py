"""find_code: every place MONAI's ConfigParser would read config data as more than a value."""

from __future__ import annotations

import pytest

from medseg.bundle.sealed_imports import imported_modules
from medseg.bundle.trust import find_code

DATA = {"name": "BraTS", "version": "0.4.2", "authors": ["a@b.org", "MONAI"], "changelog": {"0.4.2": "fix $ sign"},
        "network_data_format": {"inputs": {"image": {"channel_def": {"0": "T1c", "1": "T1"}}}}, "n": [1, 2.5, None]}


def test_plain_data_holds_no_code():
    assert find_code(DATA) is None  # a sign inside a string, or an e-mail address, is not read by MONAI


@pytest.mark.parametrize("node, found", [
    ({"version": "$__import__('os')"}, ("version", "is a Python expression ($__import__('os'))")),
    ({"a": {"b": ["x", "%/abs/file.json::v"]}}, ("a#b#1", "is a MONAI '%' macro (%/abs/file.json::v)")),
    ({"refs": [["@network_def"]]}, ("refs#0#0", "is a MONAI '@' reference (@network_def)")),
    ({"a": [{"_target_": "os.system", "command": "touch X"}]}, ("a#0", "builds a component (os.system)")),
    ({"a": {"_requires_": "@b", "x": 1}}, ("a", "holds MONAI's _requires_ key")),
    ({"a": {"$key": 1}}, ("a#$key", "is a key MONAI could read as an instruction")),
    ({"+medseg": {}}, ("+medseg", "is a key MONAI could read as an instruction")),
    ({"medseg::modalities": []}, ("medseg::modalities", "is a key MONAI could read as an instruction")),
    ("$1", ("(value)", "is a Python expression ($1)")),
])
def test_code_is_found_at_any_depth(node, found):
    assert find_code(node) == found


def test_merge_and_id_keys_matter_at_the_top_of_a_file_only():
    """MONAI merges ``+key`` and splits ``a::b`` only for the top-level keys of a loaded file."""
    assert find_code({"changelog": {"+1": "x", "a#b": "y"}}) is None
    assert find_code({"+medseg": {}}, top=False) is None  # step arguments become keyword arguments, not ids


@pytest.mark.parametrize("expression, modules", [
    ("$import helper", ["helper"]),
    ("$from pkg.sub import x", ["pkg.sub"]),
    ("$__import__('sys').path.insert(0, '/x') or __import__('helper').SW", ["sys", "helper"]),
    ("$importlib.import_module('evil').f(@net)", ["evil"]),
    ("$monai.utils.optional_import('lurking')[0]", ["lurking"]),
    ("$'data from scanner ' + @name", []),  # words in a string are not imports
    ("$@bundle_root + '/models/model.pt'", []),
])
def test_imported_modules_are_read_from_the_expression(expression, modules):
    assert sorted(imported_modules(expression)) == sorted(modules)
