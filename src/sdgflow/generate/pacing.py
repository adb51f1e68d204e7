"""Per-minute request and token limits: paced before sending, learned from the answers' headers.

Concurrency (the AdaptiveLimiter) bounds how many requests are open; hosted APIs also bound how
many may START per minute, and count tokens per minute. A request here reserves its place in
both schedules before it is sent (GCRA: each limit keeps a "theoretical arrival time", the moment
its bucket would be empty; a request may start when that moment is at most BURST_S ahead), so a
build slows down before the endpoint answers 429, not after.

Limits come from `models[].rate_limits` and, without any configuration, from the
`x-ratelimit-limit-*` headers the endpoint sends; the lower one wins. A `remaining` of zero or a
429's Retry-After pauses everyone until the endpoint's reset.

The schedule is shared by every job sending to the same (endpoint, model) on this machine: its
state is a small file updated under an exclusive lock. A SLURM job (on some node) keeps a private
schedule for its fixed share of the limits instead, like its `llm_slots`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import struct
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from sdgflow.config.models import ModelConfig, Provider, RateLimits
from sdgflow.ratelimit_headers import parse_duration

# How far ahead of its schedule a request may start. Half a second of the rate: servers that
# enforce a per-minute limit in per-second quanta (as OpenAI documents) accept a second's worth
# at once, so half of it leaves room for jitter between our send and their count.
BURST_S = 0.5
REQUESTS, TOKENS = 0, 1
# The state every job of (endpoint, model) shares: per kind, its schedule (the time its bucket
# would be empty) and the limit the endpoint announced (UNKNOWN before any answer, NONE when the
# endpoint's answers carry no limit headers).
TAT, LEARNED = (0, 1), (2, 3)
UNKNOWN, NONE = 0.0, -1.0
_STATE = struct.Struct("4d")


class _PrivateSchedule:
    def __init__(self) -> None:
        self.state = [0.0] * 4

    @contextlib.contextmanager
    def locked(self) -> Iterator[list[float]]:
        yield self.state


class _SharedSchedule:
    """The state in a file every local job opens; one flock'd read-modify-write per request."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def locked(self) -> Iterator[list[float]]:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            data = os.pread(self.fd, _STATE.size, 0)
            state = list(_STATE.unpack(data)) if len(data) == _STATE.size else [0.0] * 4
            yield state
            os.pwrite(self.fd, _STATE.pack(*state), 0)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)


def schedule_path(endpoint: str, model: str, key_name: str | None) -> Path:
    """One file per (endpoint, model, key variable) per user: limits belong to a key."""
    name = hashlib.sha256(f"{endpoint}\n{model}\n{key_name}".encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"sdgflow-{os.getuid()}" / "pacing" / name


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class MinutePacer:
    """One model's per-minute limits for one job (`share` of them when the share is fixed).

    Until the endpoint has answered once, a job with no configured limit sends one request and
    waits for its answer: its headers say whether there are limits to keep, so the build starts
    within them instead of bursting into 429s. What was learned is kept in the shared state, so
    later jobs (and later builds) start informed.
    """

    def __init__(self, configured: RateLimits, *, share: float = 1.0,
                 shared_path: Path | None = None) -> None:
        self.configured = (configured.requests_per_minute, configured.tokens_per_minute)
        self.share = share
        self._path = shared_path
        self._schedule: _PrivateSchedule | _SharedSchedule | None = None
        self._heard: asyncio.Event | None = None  # set once this job had its first answer
        self.waited_s = 0.0

    def _limits(self, state: list[float]) -> tuple[float | None, float | None]:
        out: list[float | None] = []
        for kind in (REQUESTS, TOKENS):
            learned = state[LEARNED[kind]]
            known = [v for v in (self.configured[kind], learned if learned > 0 else None) if v]
            out.append(min(known) * self.share if known else None)
        return out[0], out[1]

    def limits(self) -> tuple[float | None, float | None]:
        """Per-minute limits in force for this job: the lower of configured and learned."""
        with self._books().locked() as state:
            return self._limits(state)

    def _books(self) -> _PrivateSchedule | _SharedSchedule:
        if self._schedule is None:
            self._schedule = _SharedSchedule(self._path) if self._path else _PrivateSchedule()
        return self._schedule

    def reserve(self, tokens: int) -> float:
        """Book one request of `tokens` in both schedules; the wall-clock time it may start."""
        costs = (1.0, float(tokens))
        with self._books().locked() as state:
            limits = self._limits(state)
            now = time.time()
            start = now
            for kind, limit in enumerate(limits):
                if limit:
                    start = max(start, state[TAT[kind]] - BURST_S)
            for kind, limit in enumerate(limits):
                if limit:
                    state[TAT[kind]] = max(state[TAT[kind]], start) + costs[kind] * 60.0 / limit
        return start

    def _informed(self) -> bool:
        if any(self.configured):
            return True
        with self._books().locked() as state:
            return state[LEARNED[REQUESTS]] != UNKNOWN or state[LEARNED[TOKENS]] != UNKNOWN

    async def admit(self, tokens: int) -> None:
        """Wait until a request of `tokens` may start without exceeding a per-minute limit."""
        if self._heard is None:
            self._heard = asyncio.Event()
            if self._informed():
                self._heard.set()
            else:
                return  # the probe: the first request goes alone
        if not self._heard.is_set():
            await self._heard.wait()
        delay = self.reserve(tokens) - time.time()
        if delay > 0:
            self.waited_s += delay
            await asyncio.sleep(delay)

    def correct(self, estimated: int, used: int | None) -> None:
        """Give back (or take) the difference between a request's booked and used tokens."""
        if used is None or used == estimated:
            return
        with self._books().locked() as state:
            limit = self._limits(state)[TOKENS]
            if limit:
                state[TAT[TOKENS]] += (used - estimated) * 60.0 / limit

    def pause(self, seconds: float, kinds: tuple[int, ...] = (REQUESTS, TOKENS)) -> None:
        """Start nothing for `seconds` (a 429's Retry-After, an exhausted remaining count)."""
        if seconds <= 0:
            return
        with self._books().locked() as state:
            resume = time.time() + seconds + BURST_S
            for kind in kinds:
                state[TAT[kind]] = max(state[TAT[kind]], resume)

    def learn(self, headers: Mapping[str, str] | None, *, completion: bool = False) -> None:
        """Adopt what an answer says about the limits (`x-ratelimit-*`); None: no answer came
        (a dropped connection), which still ends this job's wait for its first answer.

        A completion without limit headers means the endpoint announces none (any limit learned
        earlier, say before the URL pointed elsewhere, is forgotten); an error answer without
        them (a proxy's 502) says nothing either way.
        """
        if headers is not None:
            with self._books().locked() as state:
                for kind, suffix in ((REQUESTS, "requests"), (TOKENS, "tokens")):
                    limit = _header_number(headers, f"x-ratelimit-limit-{suffix}")
                    if limit and limit > 0:
                        state[LEARNED[kind]] = limit
                    elif completion or state[LEARNED[kind]] == UNKNOWN:
                        state[LEARNED[kind]] = NONE
            for kind, suffix in ((REQUESTS, "requests"), (TOKENS, "tokens")):
                remaining = _header_number(headers, f"x-ratelimit-remaining-{suffix}")
                reset = parse_duration(headers.get(f"x-ratelimit-reset-{suffix}") or "")
                if remaining is not None and remaining < 1 and reset:
                    self.pause(reset, (kind,))
        if self._heard is not None:
            self._heard.set()

    def close(self) -> None:
        if isinstance(self._schedule, _SharedSchedule):
            self._schedule.close()
        self._schedule = None


def job_pacer(model: ModelConfig, provider: Provider, fixed_share: float) -> MinutePacer:
    """This job's pacer: the machine-wide schedule of (endpoint, model), or, in a SLURM job,
    a private one for the job's fixed share (its share of max_parallel_requests)."""
    if os.environ.get("SLURM_JOB_ID"):
        return MinutePacer(model.rate_limits, share=min(1.0, fixed_share))
    path = schedule_path(provider.endpoint, model.model, provider.api_key)
    return MinutePacer(model.rate_limits, shared_path=path)
