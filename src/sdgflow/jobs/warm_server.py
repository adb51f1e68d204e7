"""The warm runner's server: import every stage once, then fork one child per job.

`python -m sdgflow.jobs.warm_server SOCKET PIDFILE`. The parent only accepts, forks and reaps:
it stays single-threaded and never starts an event loop, so forking it is safe. It reaps each
child as soon as it exits (SIGCHLD wakes the loop), so the child's CPU time is accounted to this
process (/proc/PID/stat cutime) before the job that asked for it returns, and it sends the
child's wait status to that job. It stays while it has a job or one of its registered builds
(KEY.builds/PID-STARTTIME, warm.register_build) is alive, then the largest SDGFLOW_WARM_IDLE
those builds set (default 0: about a second, its poll), and exits; with no build ever
registered, after SDGFLOW_WARM_IDLE seconds (default 30) without work.

A child takes the job's stdin/stdout/stderr, working directory, environment and umask, then runs
the stage. If the job process dies (kill -9 of Snakemake's jobs), the child sees its connection
close and kills itself the same way, so no stage ever outlives the job that asked for it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import selectors
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from sdgflow.jobs import slots
from sdgflow.jobs.slots import SlotLedger
from sdgflow.jobs.warm import DEFAULT_IDLE_S, HEADER, IDLE_ENV, process_start


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = conn.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("the job closed its connection mid-request")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _die_with_job(conn: socket.socket) -> None:
    """The job sends nothing after its request: any return from recv means it is gone."""
    try:
        conn.recv(1)
    finally:
        os.kill(os.getpid(), signal.SIGKILL)


def _child(conn: socket.socket, closing: list[Any]) -> int:
    for resource in closing:
        resource.close()
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    header, fds, _flags, _addr = socket.recv_fds(conn, HEADER.size, 3)
    request = pickle.loads(_recv_exactly(conn, HEADER.unpack(header)[0]))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    tempfile.tempdir = None  # the job's TMPDIR, not the server's
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the job's descriptors, never closed here
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    threading.Thread(target=_die_with_job, args=(conn,), daemon=True).start()
    from sdgflow.jobs.dispatch import run

    try:
        run(request["stage"], request["job"])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, int | None):
            print(exit_.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


POLL_S = 1.0  # how often an idle server looks at its builds


class WarmServer:
    """Accepts jobs, forks a child per job, keeps the shared slot ledger, reaps children."""

    def __init__(self, sock_path: Path, pid_path: Path) -> None:
        self.sock_path, self.pid_path = sock_path, pid_path
        self.idle_s = float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_S)
        self.builds_dir = sock_path.with_suffix(".builds")  # see warm.server_paths
        self.linger_s: float | None = None  # after the last build: None until one registers
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(sock_path))
        self.listener.listen(256)
        self.inode = os.stat(sock_path).st_ino
        pid_path.write_text(f"{os.getpid()}\n")
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd gets a byte
        signal.set_wakeup_fd(self.wake_w.fileno())
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", 0))
        self.selector.register(self.wake_r, selectors.EVENT_READ, ("reap", 0))
        self.jobs: dict[int, socket.socket] = {}  # child pid -> the job's connection
        self.controls: dict[int, socket.socket] = {}  # child pid -> its slot control socket
        self.partial: dict[int, bytes] = {}
        self.ledger = SlotLedger()

    def run(self) -> None:
        last_work = time.monotonic()
        next_scan, builds = 0.0, False
        try:
            while True:
                for key, _events in self.selector.select(timeout=POLL_S):
                    kind, pid = key.data
                    if kind == "accept":
                        self.accept()
                    elif kind == "control":
                        self.control(pid)
                    else:
                        with contextlib.suppress(BlockingIOError):
                            while self.wake_r.recv(4096):
                                pass
                self.reap()
                now = time.monotonic()
                if self.jobs:
                    last_work = now
                    continue
                if now >= next_scan:  # not per event: a busy loop wakes per slot request
                    next_scan, builds = now + POLL_S, self.builds_alive()
                if builds:  # as of the last look: a build that ended is seen within POLL_S
                    last_work = now
                linger = self.idle_s if self.linger_s is None else self.linger_s
                if not _still_ours(self.sock_path, self.inode):
                    return
                if now - last_work > linger and not self.retire():
                    print(f"sdgflow warm server {os.getpid()}: exiting, no build alive and "
                          f"no job for {linger:g} s", file=sys.stderr, flush=True)
                    return
        finally:
            if _still_ours(self.sock_path, self.inode):
                self.sock_path.unlink(missing_ok=True)
                self.pid_path.unlink(missing_ok=True)

    def builds_alive(self) -> bool:
        """Whether a registered build is alive; forgets those that ended. The linger is the
        largest SDGFLOW_WARM_IDLE a live build set (0 if none did)."""
        alive = False
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.builds_dir):
                pid, _, start = entry.name.partition("-")
                if entry.name.startswith(".") or not pid.isdigit():
                    continue
                if process_start(int(pid)) != start:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                    continue
                alive = True
                linger = 0.0
                with contextlib.suppress(OSError, ValueError):
                    linger = float(Path(entry.path).read_text() or 0)
                self.linger_s = max(self.linger_s or 0.0, linger)
        return alive

    def retire(self) -> bool:
        """Stop taking jobs: free the socket path first (a new job starts a new server), then
        take the connections already queued. True if that gave this server work to finish."""
        if _still_ours(self.sock_path, self.inode):
            self.sock_path.unlink(missing_ok=True)
            self.pid_path.unlink(missing_ok=True)
        self.listener.setblocking(False)
        while True:
            try:
                self.accept()
            except BlockingIOError:
                break
        return bool(self.jobs)

    def accept(self) -> None:
        conn, _ = self.listener.accept()
        conn.setblocking(True)  # retire() takes the last ones from a non-blocking listener
        control, child_control = socket.socketpair()
        # Everything imported so far moves out of the collector's reach: a child's full
        # collection would otherwise walk (and copy-on-write) every inherited object, 0.15-0.2
        # CPU-s a job (https://docs.python.org/3/library/gc.html#gc.freeze).
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                slots.CHANNEL = child_control
                code = _child(conn, [self.listener, self.wake_r, self.wake_w, control,
                                     *self.jobs.values(), *self.controls.values()])
            finally:
                os._exit(code)
        child_control.close()
        self.jobs[pid], self.controls[pid] = conn, control
        self.selector.register(control, selectors.EVENT_READ, ("control", pid))
        with contextlib.suppress(OSError):
            conn.sendall(f"{pid}\n".encode())

    def control(self, pid: int) -> None:
        """Slot requests from child `pid` (see slots.py for the line format)."""
        data = self.controls[pid].recv(65536)
        if not data:
            self.drop(pid)
            return
        lines = (self.partial.pop(pid, b"") + data).split(b"\n")
        if lines[-1]:
            self.partial[pid] = lines[-1]
        grants = []
        for line in lines[:-1]:
            verb, lane, *rest = line.decode().split(" ", 3)
            if verb == "d":
                grants += self.ledger.declare((pid, int(lane)), rest[1], int(rest[0]))
            elif verb == "a":
                grants += self.ledger.acquire((pid, int(lane)))
            elif verb == "r":
                grants += self.ledger.release((pid, int(lane)))
        self.grant(grants)

    def grant(self, grants: list[tuple[int, int]]) -> None:
        for pid, lane in grants:
            control = self.controls.get(pid)
            if control is not None:
                with contextlib.suppress(OSError):
                    control.sendall(f"g {lane}\n".encode())

    def drop(self, pid: int) -> None:
        control = self.controls.pop(pid, None)
        if control is not None:
            self.selector.unregister(control)
            control.close()
        self.partial.pop(pid, None)
        self.grant(self.ledger.drop(pid))

    def reap(self) -> None:
        """Wait for exited children (their CPU becomes ours) and tell each job its status."""
        while self.jobs:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            self.drop(pid)
            conn = self.jobs.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"{status}\n".encode())
                conn.close()


def serve(sock_path: Path, pid_path: Path) -> None:
    # Stages import lazily; import them all here, once, before the first fork.
    from sdgflow.jobs.dispatch import warm_up

    gc.disable()  # no collections while importing: freed holes would be copied into every child
    warm_up()
    gc.enable()
    server = WarmServer(sock_path, pid_path)
    print(f"sdgflow warm server {os.getpid()}: started", file=sys.stderr, flush=True)
    os.write(1, b"1")  # ready: the job that started us connects now
    os.close(1)
    os.open(os.devnull, os.O_WRONLY)  # fd 1 again, so nothing writes into a closed pipe
    server.run()


def _still_ours(sock_path: Path, inode: int) -> bool:
    """False once another server took over the path (ours was deleted or replaced)."""
    try:
        return os.stat(sock_path).st_ino == inode
    except OSError:
        return False


def main() -> None:
    serve(Path(sys.argv[1]), Path(sys.argv[2]))


if __name__ == "__main__":
    main()
