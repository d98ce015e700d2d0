"""Driving the ``medseg`` CLI from tests: one runner, overrides as the command line spells them."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from medseg.cli import main


def run(*args: Any) -> Result:
    """``medseg ARGS`` in-process; exceptions other than ``SystemExit`` propagate, with their traceback."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def override_args(overrides: dict[str, Any]) -> list[str]:
    """``--override KEY=JSON`` for each config key, as a user would type them."""
    return [arg for key, value in overrides.items() for arg in ("--override", f"{key}={json.dumps(value)}")]
