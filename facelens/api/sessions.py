"""Live liveness sessions held in memory: a few at once, each dropped after IDLE_SECONDS
without a frame, so abandoned pages cost nothing for long."""

from __future__ import annotations

import threading
import time

from facelens.errors import ErrorCode, FaceLensError
from facelens.liveness.session import LiveCheck

IDLE_SECONDS = 30.0
MAX_SESSIONS = 16


class Sessions:
    def __init__(self, max_sessions: int = MAX_SESSIONS, idle: float = IDLE_SECONDS) -> None:
        self.max_sessions, self.idle = max_sessions, idle
        self.items: dict[str, tuple[LiveCheck, threading.Lock, float]] = {}
        self.lock = threading.Lock()

    def add(self, check: LiveCheck) -> None:
        with self.lock:
            self._expire()
            if len(self.items) >= self.max_sessions:
                raise FaceLensError(
                    ErrorCode.BUSY,
                    f"{self.max_sessions} liveness sessions are running; try again shortly",
                )
            self.items[check.session_id] = (check, threading.Lock(), time.monotonic())

    def get(self, session_id: str) -> tuple[LiveCheck, threading.Lock]:
        with self.lock:
            self._expire()
            self._known(session_id)
            check, lock, _ = self.items[session_id]
            self.items[session_id] = (check, lock, time.monotonic())
            return check, lock

    def remove(self, session_id: str) -> None:
        """Ends a session; an unknown (or expired) one is `not_found`, as in get."""
        with self.lock:
            self._expire()
            self._known(session_id)
            del self.items[session_id]

    def _known(self, session_id: str) -> None:
        if session_id not in self.items:
            raise FaceLensError(
                ErrorCode.NOT_FOUND, "no such liveness session (it ended or expired)"
            )

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, _, seen) in self.items.items() if now - seen > self.idle]:
            del self.items[key]
