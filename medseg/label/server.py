"""``medseg label serve``: start MONAI Label's own server (FastAPI under uvicorn) with ``MedsegApp``.

The studies folder gets a workspace, ``.medseg-label/``: it is MONAI Label's app folder (a ``main.py``
that imports ``MedsegApp``; MONAI Label adds ``logs/``, ``model/``, ``lib/``, ``bin/``) and holds the
served run (``served.json``), the last Train (``training.json``), the manifests Trains trained on,
uncertainty scores and what clients recorded about studies and labels (``datastore.json``).
A ``MedsegError`` raised while answering a request comes back as HTTP 422 with one line,
``medseg: error: <what>: <problem>``, which Slicer shows as the error's text.
"""

from __future__ import annotations

import importlib.util
import logging
from argparse import Namespace
from pathlib import Path

from medseg.bundle.find import find_bundle
from medseg.errors import BundleError, InputError, MedsegError, find_medseg_error
from medseg.io.atomic import write_text_atomic
from medseg.label.served import ServedRun
from medseg.label.studies import Studies

APP_MAIN = '''"""Written by medseg label serve: MONAI Label loads its app from main.py in the app folder."""

from medseg.label.app import MedsegApp  # noqa: F401
'''


def serve(run: str | Path, studies: str | Path, host: str = "127.0.0.1", port: int = 8000, device: str = "auto",
          time_limit: float = 10.0, trust: bool = False) -> None:
    """Serve ``run`` (a trained medseg run) to MONAI Label clients (3D Slicer) on ``studies``; blocks until
    stopped (Ctrl-C). ``time_limit``: minutes each Train may take; ``trust``: as ``medseg infer --trust``."""
    if importlib.util.find_spec("monailabel") is None:
        raise InputError("MONAI Label is not installed: pip install 'medseg[label]' (README: Review and correct "
                         "in 3D Slicer)")
    if time_limit <= 0:
        raise InputError(f"--time-limit must be positive minutes, got {time_limit:g}")
    bundle = find_bundle(run)
    if not bundle.model_path.is_file():
        raise BundleError("not a trained run (no models/model.pt): serve a run directory that medseg train wrote",
                          bundle.root)
    folder = Studies(studies, bundle)
    found = folder.scan()
    if not found:
        raise InputError("no studies in the folder (case folders with one *_<sequence>.nii.gz per sequence of "
                         f"{bundle.modalities}, or NIfTI images)", folder.root)
    workspace = prepare_workspace(folder, bundle.root)
    conf = {"device": device, "trust": str(bool(trust)).lower(), "time_limit_min": str(float(time_limit))}
    print(f"medseg: serving {bundle.root} ({bundle.name}) on {len(found)} studies in {folder.root}", flush=True)
    print(f"medseg: in 3D Slicer's MONAI Label module, connect to http://{host}:{port}", flush=True)
    _run_server(workspace, folder.root, host, port, conf)


def prepare_workspace(folder: Studies, run: Path) -> Path:
    """The workspace with MONAI Label's ``main.py``, serving ``run`` from now on."""
    workspace = folder.workspace
    write_text_atomic(workspace / "main.py", APP_MAIN)
    ServedRun(workspace).serve(run)
    return workspace


def _run_server(workspace: Path, studies: Path, host: str, port: int, conf: dict[str, str]) -> None:
    """MONAI Label's ``start_server`` steps (settings exported to the environment for its Train processes,
    its logging set-up), then uvicorn in this process; a Train still running is stopped on the way out."""
    import uvicorn
    from monailabel.config import settings
    from monailabel.main import Main
    from monailabel.utils.async_tasks.utils import stop_background_task
    from monailabel.utils.others.generic import init_log_config

    settings.MONAI_LABEL_SESSIONS = False  # sessions hold uploaded images; this server serves its folder only
    settings.MONAI_LABEL_AUTO_UPDATE_SCORING = False  # no scoring methods: the strategies score on demand
    settings.MONAI_LABEL_DATASTORE_AUTO_RELOAD = False  # the datastore rescans the folder on each call
    settings.MONAI_LABEL_TRACKING_ENABLED = False  # MLflow tracking is for MONAI Label's own trainers
    args = Namespace(conf=[[k, v] for k, v in conf.items()], port=port, app=str(workspace), studies=str(studies),
                     dryrun=False)
    Main().start_server_init_settings(args)
    log_config = init_log_config(None, str(workspace), "app.log")
    from monailabel.app import app

    for kind in (MedsegError, RuntimeError, Exception):  # RuntimeError: MONAI wraps medseg's errors in it
        app.add_exception_handler(kind, _error_response)
    try:
        uvicorn.run(app, host=host, port=port, log_config=log_config)
    finally:
        stop_background_task("train")


async def _error_response(request, exc: Exception):
    """One line for the client: medseg's own error where there is one (MONAI wraps them), else the type."""
    from fastapi.responses import JSONResponse

    log = logging.getLogger("medseg.label")
    error = exc if isinstance(exc, MedsegError) else find_medseg_error(exc)
    if error is None:
        log.exception("unexpected error answering %s", request.url.path)
        text = str(getattr(exc, "msg", "") or exc).strip()  # MONAI Label's own exceptions carry a ``msg``
        text = text.splitlines()[0] if text else ""
        return JSONResponse({"detail": f"medseg: error: {type(exc).__name__}: {text}"}, status_code=500)
    log.warning("refused %s: %s", request.url.path, error)
    return JSONResponse({"detail": f"medseg: error: {error}"}, status_code=422)
