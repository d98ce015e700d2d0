"""`medseg plan`: a thin layer over ``medseg.api.planning.plan``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import POSITIVE, TRUST, api_usage_errors


@click.command()
@click.argument("bundle")
@click.option("--data", type=click.Path(path_type=Path),
              help="Manifest (MSD datalist JSON); default: the bundle's own dataset.json (bundle new writes one).")
@click.option("--device", default="auto", show_default=True,
              help="Plan for auto|cpu|cuda[:N] (cuda without a GPU here needs --gpu-memory-gb).")
@click.option("--gpu-memory-gb", type=POSITIVE, help="Plan for a GPU with this much memory (no GPU needed here).")
@click.option("--time-limit", "time_limit", type=POSITIVE, metavar="MIN",
              help="Fit the schedule and its learning-rate decay to this many minutes of training.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@TRUST
@click.pass_context
@api_usage_errors
def plan(ctx, bundle, data, device, gpu_memory_gb, time_limit, as_json, trust) -> None:
    """Fingerprint the data of BUNDLE (a task or bundle folder) and plan its training for a device.

    The plan (spacing, patch, batch, DynUNet topology with deep supervision, schedule, memory
    estimate) is what `medseg train` uses by default. A 2D bundle shows the plan `bundle new` made
    from its data; a bundle that does not plan shows its own recipe (neither takes the planning options).
    """
    from click.core import ParameterSource

    from medseg.api import plan as plan_bundle

    typed = ctx.get_parameter_source("device") is ParameterSource.COMMANDLINE  # the API's None: not given
    answer = plan_bundle(bundle, data, device if typed else None, gpu_memory_gb, time_limit, trust)
    click.echo(answer.json if as_json else answer.text)
