"""RequestStore: every paid answer, appended and flushed the moment it arrives.

Layout: `<store>/b<block>/<writer>.jsonl`, block = record_id // BLOCK. Each job writes only its
own files (a unique writer id), so many jobs on a shared filesystem never contend and no locking
is needed; readers merge every writer's file of the blocks they need. A crash can leave at most a
torn last line, which readers skip.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from sdgflow.config.errors import ConfigError

BLOCK = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredAnswer:
    key: str
    record_id: int
    column: str
    text: str
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float | None
    model: str
    provider: str


class RequestStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.writer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._handles: dict[int, IO[bytes]] = {}

    def _block_dir(self, block: int) -> Path:
        return self.root / f"b{block:06d}"

    def load(self, start: int, end: int) -> dict[str, StoredAnswer]:
        """Every stored answer for records [start, end), by key."""
        answers: dict[str, StoredAnswer] = {}
        if end <= start:
            return answers
        for block in range(start // BLOCK, (end - 1) // BLOCK + 1):
            directory = self._block_dir(block)
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.jsonl")):
                for line in path.read_bytes().splitlines():
                    try:
                        entry = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        log.warning("skipping a torn line in %s (a writer was killed mid-write)",
                                    path)
                        continue
                    if start <= entry["record_id"] < end:
                        answers[entry["key"]] = StoredAnswer(**entry)
        return answers

    def append(self, answer: StoredAnswer) -> None:
        block = answer.record_id // BLOCK
        handle = self._handles.get(block)
        try:
            if handle is None:
                self._block_dir(block).mkdir(parents=True, exist_ok=True)
                # Unbuffered: each answer is one write(2) the moment it arrives, so a killed job
                # loses nothing paid for, and a failed write leaves nothing pending to fail again.
                handle = self._handles[block] = open(  # noqa: SIM115 - kept open for appends
                    self._block_dir(block) / f"{self.writer}.jsonl", "ab", buffering=0)
            handle.write(orjson.dumps(answer.__dict__) + b"\n")
        except OSError as exc:
            raise ConfigError(
                f"cannot write to the response store {self.root}: {exc.strerror}",
                fix="free disk space (or point work_dir elsewhere) and rerun; every answer "
                "stored so far is kept and will not be requested again",
            ) from exc

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def __enter__(self) -> RequestStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
