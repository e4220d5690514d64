"""The stand-in Africa's Talking's outbound callbacks: delivery reports and opt-out notifications."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import requests

from mijuntos_dev.fake_at_state import network_code

log = logging.getLogger(__name__)


def dlr_form(message_id: str, phone: str, status: str, reason: str = "", retries: int = 0) -> dict[str, str]:
    """The form fields of one delivery report; `failureReason` only when there is one, as AT does."""
    form = {
        "id": message_id,
        "status": status,
        "phoneNumber": phone,
        "networkCode": network_code(phone),
        "retryCount": str(retries),
    }
    if reason:
        form["failureReason"] = reason
    return form


class Callbacks:
    """Posts form callbacks, now or from a background thread after a delay, and keeps what it posted."""

    def __init__(self, delay: float = 0.2) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.posted: list[dict[str, Any]] = []
        self.closing = threading.Event()
        self._queue: queue.Queue[tuple[float, str, dict[str, str]] | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def post(self, url: str, form: dict[str, str]) -> int:
        """POST `form` to `url` now; the HTTP status, 0 when the callback could not be reached."""
        try:
            status = requests.post(url, data=form, timeout=5).status_code
        except requests.RequestException as exc:
            log.warning("fake AT: callback %s failed: %s", url, type(exc).__name__)
            status = 0
        with self.lock:
            self.posted.append({"url": url, "form": form, "status": status})
        return status

    def later(self, url: str, forms: list[dict[str, str]]) -> None:
        """POST each form in order, `delay` seconds from now, from the background thread."""
        with self.lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="fake-at-callbacks", daemon=True)
                self._worker.start()
        due = time.monotonic() + self.delay
        for form in forms:
            self._queue.put((due, url, form))

    def wait(self, timeout: float = 5.0) -> bool:
        """Wait until every queued callback has been posted; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def clear(self) -> None:
        """Forget what was posted."""
        with self.lock:
            self.posted = []

    def close(self) -> None:
        """Stop the background thread; callbacks still waiting are dropped."""
        self.closing.set()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout=5)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                due, url, form = item
                if self.closing.wait(max(0.0, due - time.monotonic())):
                    return
                self.post(url, form)
            finally:
                self._queue.task_done()
