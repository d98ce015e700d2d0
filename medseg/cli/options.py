"""Options shared by several commands."""

import click

DEVICE = click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N]")
