"""Counters the simulator keeps so tests and benchmarks can see what the client really did."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import orjson


@dataclass(slots=True)
class SimStats:
    """Request bookkeeping; every update is O(1) so the simulator never becomes the bottleneck."""

    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    completed: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    # 429s of the per-minute limits (--rpm/--tpm) by the limit that refused: requests, tokens.
    rate_limited: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    queued: int = 0
    queued_max: int = 0
    # fingerprint -> requests received with it; the next one's attempt number.
    attempts: dict[str, int] = field(default_factory=dict)
    completed_fingerprints: set[str] = field(default_factory=set)
    repeated_completed: int = 0
    first_request_at: float | None = None
    last_response_at: float | None = None
    busy_slot_seconds: float = 0.0

    def now(self) -> float:
        """Seconds since the app started (monotonic)."""
        return time.monotonic() - self.started

    def received(self) -> None:
        self.requests += 1
        if self.first_request_at is None:
            self.first_request_at = self.now()

    def next_attempt(self, fingerprint: str) -> int:
        attempt = self.attempts.get(fingerprint, 0)
        self.attempts[fingerprint] = attempt + 1
        return attempt

    def answered(self, status: str, fingerprint: str | None) -> None:
        """A response went out (or the connection ended): count it by status."""
        self.by_status[status] += 1
        self.last_response_at = self.now()
        if status == "200":
            self.completed += 1
            if fingerprint is not None:
                # A fingerprint completed before means the client paid twice for one answer.
                if fingerprint in self.completed_fingerprints:
                    self.repeated_completed += 1
                else:
                    self.completed_fingerprints.add(fingerprint)

    def reset(self) -> None:
        # Keep the clock origin so timestamps stay comparable across a reset.
        fresh = SimStats(started=self.started)
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))

    def snapshot(self) -> dict[str, Any]:
        """GET /sim/stats. Counts cover chat requests only (a /v1/models health check is free);
        by_status keys are HTTP codes plus "reset", "hang", "html", "cut_body" and "stall" (the
        last three went out as 200s that are no answer); times are seconds since start."""
        return {
            "requests": self.requests,
            "completed": self.completed,
            "by_status": dict(self.by_status),
            "rate_limited": dict(self.rate_limited),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "queued": self.queued,
            "queued_max": self.queued_max,
            "fingerprints_completed": len(self.completed_fingerprints),
            "repeated_completed": self.repeated_completed,
            "first_request_at": self.first_request_at,
            "last_response_at": self.last_response_at,
            "busy_slot_seconds": self.busy_slot_seconds,
        }


class RequestLog:
    """Appends one flushed JSON line per answered chat request, for counting after the fact."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def write(self, fingerprint: str, status: str, attempt: int, at: float) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        line = {
            "fingerprint": fingerprint,
            "status": status,
            "attempt": attempt,
            "time": round(at, 6),
            "unix_time": time.time(),
        }
        # Flushed per line: the server may be killed (SLURM tests) and the log must stay whole.
        self._file.write(orjson.dumps(line) + b"\n")
        self._file.flush()
