"""`medseg plan`: a thin layer over ``medseg.planning``."""

from __future__ import annotations

from pathlib import Path

import click

from medseg.cli.options import TRUST


@click.command()
@click.argument("bundle")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Manifest (MSD datalist JSON).")
@click.option("--device", default="auto", show_default=True,
              help="Plan for auto|cpu|cuda[:N] (cuda without a GPU here needs --gpu-memory-gb).")
@click.option("--gpu-memory-gb", type=float, help="Plan for a GPU with this much memory (no GPU needed here).")
@click.option("--time-limit", "time_limit", type=float, metavar="MIN",
              help="Fit the schedule and its learning-rate decay to this many minutes of training.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@TRUST
def plan(bundle, data, device, gpu_memory_gb, time_limit, as_json, trust) -> None:
    """Fingerprint the data of BUNDLE (a task or bundle folder) and plan its training for a device.

    The plan (spacing, patch, batch, DynUNet topology with deep supervision, schedule, memory
    estimate) is what `medseg train` uses by default.
    """
    from medseg.bundles import find_bundle
    from medseg.errors import InputError
    from medseg.planning import plan_for_bundle

    if not data.is_file():
        raise InputError("manifest not found", data)
    result = plan_for_bundle(find_bundle(bundle), data, device, gpu_memory_gb, time_limit, trust)
    click.echo(result.to_json() if as_json else result.table())
