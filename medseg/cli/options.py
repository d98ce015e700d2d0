"""Options shared by several commands."""

import click

DEVICE = click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:N]")
TRUST = click.option("--trust", is_flag=True,
                     help="Run a bundle from outside medseg and your own runs (its configs run Python code).")
