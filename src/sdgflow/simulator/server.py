"""Serves the simulator over HTTP with uvicorn (`sdgflow serve-sim`)."""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
import threading
from pathlib import Path

import orjson
import uvicorn

from sdgflow.simulator.app import SimulatedConnectionReset, SimulatedReadTimeout, create_app
from sdgflow.simulator.settings import SimulatorSettings

# Deep accept queue: benchmarks open hundreds of connections at once.
BACKLOG = 2048


class _DropSimulatedFaults(logging.Filter):
    """Uvicorn logs every app exception with a traceback; simulated faults are not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedConnectionReset | SimulatedReadTimeout)


def write_ready_file(path: Path, port: int) -> None:
    """Announce the port. A FIFO gets the JSON written into it (a reader blocks on it, no
    polling); a regular file is replaced atomically so a reader never sees half a JSON."""
    data = orjson.dumps({"port": port, "pid": os.getpid()}) + b"\n"
    if path.exists() and stat.S_ISFIFO(path.stat().st_mode):
        # Opening a FIFO for writing blocks until a reader opens it: do it off the event loop,
        # in a daemon thread so a reader that never comes cannot keep the process alive.
        def _write() -> None:
            with path.open("wb") as fifo:
                fifo.write(data)

        threading.Thread(target=_write, name="ready-file", daemon=True).start()
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class _Server(uvicorn.Server):
    """Writes the ready file once uvicorn accepts connections."""

    def __init__(self, config: uvicorn.Config, port: int, ready_file: Path | None) -> None:
        super().__init__(config)
        self._port = port
        self._ready_file = ready_file

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        # uvicorn does not log the address when given sockets; people need the port.
        print(
            f"sdgflow serve-sim: listening on port {self._port} (pid {os.getpid()})",
            file=sys.stderr,
            flush=True,
        )
        if self._ready_file is not None:
            write_ready_file(self._ready_file, self._port)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 lets the OS choose a free port (no race with a probe)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say
    # they are TCP, and without it every keep-alive reply (headers and body are two writes)
    # waited ~40 ms for the client's delayed ACK, inflating the simulated latency.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: SimulatorSettings,
    host: str = "127.0.0.1",
    port: int = 0,
    ready_file: Path | None = None,
) -> None:
    """Serve the simulator until SIGINT/SIGTERM; writes `{"port", "pid"}` to `ready_file`."""
    sock = bind(host, port)
    config = uvicorn.Config(
        create_app(settings),
        loop="asyncio",
        http="h11",
        lifespan="off",
        access_log=False,
        log_level="warning",
        limit_concurrency=None,
        backlog=BACKLOG,
        # Clients keep connections open between requests; do not drop them under load.
        timeout_keep_alive=30,
        # A hung request would otherwise hold shutdown for hang_seconds.
        timeout_graceful_shutdown=2,
    )
    logging.getLogger("uvicorn.error").addFilter(_DropSimulatedFaults())
    _Server(config, sock.getsockname()[1], ready_file).run(sockets=[sock])
