"""Options shared by several commands, the number types that refuse nonsense before any work, and the API's
usage errors shown as click shows its own."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import click


class Number(click.ParamType):
    """A finite float above ``minimum`` (or at least it, with ``inclusive``): ``nan``, ``inf``, ``0`` or
    ``-5`` minutes are a usage error naming the option, not a ``NaN`` in a run's configs."""

    name = "number"

    def __init__(self, minimum: float = 0.0, inclusive: bool = False, below: float | None = None) -> None:
        self.minimum, self.inclusive, self.below = minimum, inclusive, below

    def convert(self, value, param, ctx) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        low_ok = number >= self.minimum if self.inclusive else number > self.minimum
        if not math.isfinite(number) or not low_ok or (self.below is not None and number >= self.below):
            self.fail(f"{value!r}: expected a finite number {self.describe()}", param, ctx)
        return number

    def describe(self) -> str:
        low = f"{'≥' if self.inclusive else '>'} {self.minimum:g}"
        return f"{low} and < {self.below:g}" if self.below is not None else low


POSITIVE = Number()  # minutes, gigabytes, millimetres
FRACTION = Number(0.0, inclusive=True, below=1.0)  # a share of the cases held out
COUNT = click.IntRange(min=1)  # epochs, processes, folds, pixels
INDEX = click.IntRange(min=0)  # a fold number

DEVICE = click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N]")
TRUST = click.option("--trust", is_flag=True,
                     help="Run a bundle from outside medseg and your own runs (its configs run Python code).")


def api_usage_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose API call may refuse options that do not fit (``medseg.errors.UsageError``): the refusal is
    a click usage error of this command (exit status 2, ``(see medseg CMD --help)``), like click's own."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from medseg.errors import UsageError

        try:
            return command(*args, **kwargs)
        except UsageError as exc:
            raise click.UsageError(exc.message, click.get_current_context()) from exc

    return wrapper
