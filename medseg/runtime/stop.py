"""Stopping cleanly on SIGINT/SIGTERM, for the training loop and for inference alike."""

from __future__ import annotations

import signal
from typing import Any


class StopRequest:
    """SIGINT/SIGTERM ask the loop to stop after its current step (training: the epoch's checkpoint;
    inference: the case's files); a second SIGINT stops now. ``notice`` says what happens first.

    Handlers are installed only in the main thread and restored on exit.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, notice: str = "finishing this epoch, writing a checkpoint") -> None:
        self.signal: int | None = None
        self.notice = notice
        self._previous: dict[int, Any] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        import sys

        print(f"medseg: {signal.Signals(signum).name} received: {self.notice}, then stopping "
              "(Ctrl-C again stops at once)", file=sys.stderr, flush=True)

    def __enter__(self) -> StopRequest:
        import threading

        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
