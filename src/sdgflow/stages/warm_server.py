"""The warm runner's server: import every stage once, then fork one child per job.

`python -m sdgflow.stages.warm_server SOCKET PIDFILE`. The parent only accepts, forks and reaps:
it stays single-threaded and never starts an event loop, so forking it is safe. It reaps each
child as soon as it exits (SIGCHLD wakes the loop), so the child's CPU time is accounted to this
process (/proc/PID/stat cutime) before the job that asked for it returns, and it sends the
child's wait status to that job. It exits after SDGFLOW_WARM_IDLE seconds without work.

A child takes the job's stdin/stdout/stderr, working directory, environment and umask, then runs
the stage. If the job process dies (kill -9 of Snakemake's jobs), the child sees its connection
close and kills itself the same way, so no stage ever outlives the job that asked for it.
"""

from __future__ import annotations

import contextlib
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

from sdgflow.stages.warm import DEFAULT_IDLE_S, HEADER, IDLE_ENV


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
    from sdgflow.stages.jobs import run

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


def serve(sock_path: Path, pid_path: Path) -> None:
    # Stages import lazily; import them all here, once, before the first fork.
    from sdgflow.stages.jobs import warm_up

    warm_up()
    idle_s = float(os.environ.get(IDLE_ENV, DEFAULT_IDLE_S))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(256)
    inode = os.stat(sock_path).st_ino
    pid_path.write_text(f"{os.getpid()}\n")
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so set_wakeup_fd gets the byte
    signal.set_wakeup_fd(wake_w.fileno())
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "reap")
    children: dict[int, socket.socket] = {}
    last_work = time.monotonic()
    os.write(1, b"1")  # ready: the job that started us connects now
    os.close(1)
    os.open(os.devnull, os.O_WRONLY)  # fd 1 again, so nothing writes into a closed pipe

    def reap() -> None:
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            conn = children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"{status}\n".encode())
                conn.close()

    try:
        while True:
            for key, _events in selector.select(timeout=min(idle_s, 5.0)):
                if key.data == "reap":
                    try:
                        while wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    reap()
                    continue
                conn, _ = listener.accept()
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        code = _child(conn, [listener, wake_r, wake_w])
                    finally:
                        os._exit(code)
                children[pid] = conn
                with contextlib.suppress(OSError):
                    conn.sendall(f"{pid}\n".encode())
            reap()
            if children:
                last_work = time.monotonic()
            elif time.monotonic() - last_work > idle_s or not _still_ours(sock_path, inode):
                return
    finally:
        if _still_ours(sock_path, inode):
            sock_path.unlink(missing_ok=True)
            pid_path.unlink(missing_ok=True)


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
