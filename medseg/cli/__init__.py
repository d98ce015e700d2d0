"""The ``medseg`` command line: a thin click layer over the Python API (no logic lives here).

Heavy imports happen inside each command so ``medseg --help`` answers at once.
"""

from __future__ import annotations

import sys
import warnings

import click

from medseg.errors import MedsegWarning


class MedsegGroup(click.Group):
    """Print every ``MedsegError`` (and unexpected errors) as one line; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        from medseg.errors import MedsegError, find_medseg_error

        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # one line like every other error, naming the option and the command
            if ctx.obj and ctx.obj.get("debug"):
                raise
            command = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"medseg: error: {exc.format_message()} (see {command} --help)", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except MedsegError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"medseg: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("medseg: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
            if ctx.obj and ctx.obj.get("debug"):
                raise
            cause = find_medseg_error(exc)
            if cause is not None:  # raised inside a MONAI transform or config component
                click.echo(f"medseg: error: {cause}", err=True)
                sys.exit(cause.exit_code)
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            click.echo(f"medseg: error: {type(exc).__name__}: {message} (rerun with --debug for details)", err=True)
            sys.exit(1)


@click.group(cls=MedsegGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.version_option(package_name="medseg")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Medical image segmentation on MONAI: train, infer, evaluate, manage bundles."""
    ctx.obj = {"debug": debug}
    _show_medseg_warnings()
    if debug:  # medseg's log at DEBUG lets library log lines through (MONAI's download steps)
        import logging

        logging.getLogger("medseg").setLevel(logging.DEBUG)
    if not debug:  # library warnings are internals: only medseg's own reach the user (--debug shows all)
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", category=MedsegWarning)  # once per file and problem


_PYTHON_SHOWWARNING = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, MedsegWarning):
        click.echo(f"medseg: warning: {message}", err=True)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


def _show_medseg_warnings() -> None:
    """Print ``MedsegWarning`` (e.g. a partial DICOM series) as one ``medseg: warning:`` line."""
    import logging

    warnings.showwarning = _show_warning
    # MONAI announces at import that an optional GPU DICOM decoder is absent; not the user's concern.
    logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)
    # nibabel logs header fixes (negative pixdim ...) on every load; medseg warns once per file instead.
    logging.getLogger("nibabel.global").setLevel(logging.CRITICAL)


def _register() -> None:
    from medseg.cli import bundle, data, dicom_seg, evaluate, infer, label, plan, report, train

    main.add_command(plan.plan)
    main.add_command(train.train)
    main.add_command(infer.infer)
    main.add_command(evaluate.evaluate)
    main.add_command(data.data)
    main.add_command(bundle.bundle)
    main.add_command(report.report)
    main.add_command(dicom_seg.dicom_seg)
    main.add_command(label.label)


_register()
