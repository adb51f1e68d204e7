"""Shared slots: one endpoint budget across every job the warm runner forks.

With a fixed share per job (`llm_slots` / jobs), slots sat idle while a job started up and after
a job's shard was done but the others' were not. Jobs forked by the warm runner instead ask
the runner for each request slot: the runner grants FIFO while the budget of that
(endpoint, model) has room, so a job may use what others leave idle, and all of them together
never exceed the budget. Jobs outside the runner (SLURM, SDGFLOW_WARM=0) keep their share.

Wire format (lines over the job's control socket): job -> runner `d LANE CAPACITY KEY`
(declare), `a LANE` (acquire one slot), `r LANE` (release one); runner -> job `g LANE` (granted).
A job that exits or dies gives back everything it held.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
from dataclasses import dataclass, field

Lane = tuple[int, int]  # (job, lane id within that job)
# The run's global `--resources llm_slots` (empty when not given), set by the Snakefile: a
# model's shared budget is min(its max_parallel_requests, this).
BUDGET_ENV = "SDGFLOW_LLM_BUDGET"


def shared_capacity(max_parallel_requests: int) -> int:
    budget = os.environ.get(BUDGET_ENV, "")
    return min(max_parallel_requests, int(budget)) if budget else max_parallel_requests


@dataclass
class _Budget:
    capacity: int
    in_use: int = 0
    queue: collections.deque[Lane] = field(default_factory=collections.deque)


class SlotLedger:
    """The runner's books: who holds and who waits for which budget. No I/O."""

    def __init__(self) -> None:
        self.budgets: dict[str, _Budget] = {}
        self.keys: dict[Lane, str] = {}
        self.held: collections.Counter[Lane] = collections.Counter()

    def declare(self, lane: Lane, key: str, capacity: int) -> list[Lane]:
        budget = self.budgets.setdefault(key, _Budget(capacity))
        budget.capacity = max(1, capacity)  # the latest plan's budget applies
        self.keys[lane] = key
        return self._grant(key)

    def acquire(self, lane: Lane) -> list[Lane]:
        key = self.keys[lane]
        self.budgets[key].queue.append(lane)
        return self._grant(key)

    def release(self, lane: Lane) -> list[Lane]:
        key = self.keys[lane]
        if self.held[lane] > 0:
            self.held[lane] -= 1
            self.budgets[key].in_use -= 1
        return self._grant(key)

    def drop(self, job: int) -> list[Lane]:
        """Job `job` is gone: free what it held and forget what it waited for."""
        grants: list[Lane] = []
        for lane in [lane for lane in self.keys if lane[0] == job]:
            key = self.keys.pop(lane)
            budget = self.budgets[key]
            budget.in_use -= self.held.pop(lane, 0)
            budget.queue = collections.deque(w for w in budget.queue if w[0] != job)
            grants += self._grant(key)
        return grants

    def _grant(self, key: str) -> list[Lane]:
        budget, grants = self.budgets[key], []
        while budget.queue and budget.in_use < budget.capacity:
            lane = budget.queue.popleft()
            budget.in_use += 1
            self.held[lane] += 1
            grants.append(lane)
        return grants


# Set in a warm child before its stage runs: the control socket to the runner.
CHANNEL: socket.socket | None = None


class SharedSlots:
    """A job's side: acquire/release slots of named budgets from the runner (asyncio)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._waiting: dict[int, collections.deque[asyncio.Future[None]]] = {}
        self._task = asyncio.get_running_loop().create_task(self._read_grants())

    @classmethod
    async def connect(cls) -> SharedSlots | None:
        """The runner's budgets when this job runs in a warm child, else None."""
        if CHANNEL is None:
            return None
        reader, writer = await asyncio.open_unix_connection(sock=CHANNEL.dup())
        return cls(reader, writer)

    def lane(self, key: str, capacity: int) -> int:
        lane = len(self._waiting)
        self._waiting[lane] = collections.deque()
        self._writer.write(f"d {lane} {capacity} {key}\n".encode())
        return lane

    async def acquire(self, lane: int) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[lane].append(waiter)
        self._writer.write(f"a {lane}\n".encode())
        await waiter

    def release(self, lane: int) -> None:
        self._writer.write(f"r {lane}\n".encode())

    async def _read_grants(self) -> None:
        while line := await self._reader.readline():
            lane = int(line.split()[1])
            waiter = self._waiting[lane].popleft()
            if waiter.cancelled():
                self.release(lane)  # its caller gave up: hand the slot straight back
            else:
                waiter.set_result(None)
        for waiters in self._waiting.values():  # the runner is gone: nobody will grant
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(ConnectionError("the warm runner went away"))

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._writer.close()
