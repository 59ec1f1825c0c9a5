"""A stage's log, followed as its container writes it: GET .../pods/<pod>/log?follow=true (the
pod log API's stream, as `kubectl logs -f`), read in a thread of the run's worker; the lines
are kept on the stage and pushed to the run's group (pipelinerun-<id>) as they come, appended
to the stage's log on open pages (templates/pipelines/_stage_log_append.html). No page and no
worker asks for the whole log again and again.

Pushes are batched: what arrived within FLUSH_SECONDS goes out together (AWX caps its event
broadcasts the same way), so a chatty build sends a few pushes a second, not one per line."""

import contextlib
import threading

from django.template.loader import render_to_string

from console.kube.api import ClusterAPI
from console.live import realtime

FLUSH_SECONDS = 0.25
TAIL_LINES = 100_000  # from the start: a worker taking a run over reads the stage's log again
MAX_LOG = 200_000  # characters of a stage's log kept (the newest)


class LogFollower:
    """Streams one pod's log in a reader thread; `pump` (in the worker's thread) stores and pushes
    what arrived. Ends when the container stops (the API server closes the stream)."""

    def __init__(self, api: ClusterAPI, pod: str, namespace: str):
        self.response = api.follow_pod_log(pod, namespace, tail_lines=TAIL_LINES)
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.done = threading.Event()
        self.pending: list[bytes] = []
        self.closing = False
        self.reader = threading.Thread(target=self._read, name=f"stage-log-{pod}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            while True:
                data = self.response.read1(65536)
                if not data:
                    break
                with self.lock:
                    self.pending.append(data)
                self.arrived.set()
        except Exception:  # noqa: BLE001 (our own shutdown, or the connection broke: the stream ends either way)
            pass
        finally:
            self.done.set()
            self.arrived.set()

    def take(self) -> str:
        with self.lock:
            data, self.pending = b"".join(self.pending), []
            self.arrived.clear()
        return data.decode(errors="replace")

    def pump(self, seconds: float, store) -> None:
        """Wait up to `seconds` for the log; what arrives goes to store(text), in batches."""
        if self.arrived.wait(seconds) and not self.done.is_set():
            self.done.wait(FLUSH_SECONDS)  # let a burst gather into one push
        text = self.take()
        if text:
            store(text)

    def finish(self, store, timeout: float = 10.0) -> None:
        """The container stopped: read the stream to its end (bounded), then close it."""
        self.done.wait(timeout)
        text = self.take()
        if text:
            store(text)
        self.close()

    def close(self) -> None:
        self.closing = True
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            self.response.shutdown()
        with contextlib.suppress(OSError):
            self.response.close()
        self.reader.join(timeout=5)


def push_lines(run, stage, text: str) -> None:
    """Append `text` to the stage's log on the open run pages (the fragment has no words to translate)."""
    html = render_to_string("pipelines/_stage_log_append.html", {"stage": stage, "text": text})
    realtime.push_html(run.group, html)
