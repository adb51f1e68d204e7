"""The warm runner's client: run a stage in a fork of an already-imported sdgflow process.

Every Snakemake job used to start a Python that imported pydantic, pyarrow and the openai client
(1-2 CPU-s a job, 16 jobs for 8 shards); on a laptop that start-up, not the endpoint, bounded how
soon the endpoint's budget was in use. A job now sends its JobSpec, working directory,
environment and stdin/stdout/stderr over a Unix socket to a warm server (warm_server.py), which
forks a child that runs the stage exactly as the job would have, and reports the child's exit
status back. Nothing is shared between jobs but the imported code: each child has the job's own
cwd, environment, file descriptors and slot share.

The server is keyed by interpreter + installed packages + sdgflow's source, so an edit or an
upgrade starts a fresh one; it lives in a 0700 directory of the user's. Each Snakemake build that
uses it registers itself (a file named after its process id and start time, in KEY.builds/), and
the server exits about a second after it has no job and none of its builds is alive, so nothing
outlives the builds; SDGFLOW_WARM_IDLE=N keeps it N s longer for the next build. A server no
build registered with exits after 30 s without work.
Off under SLURM (a daemon must not outlive a cluster job) and with SDGFLOW_WARM=0; when it
cannot be reached the job runs in-process, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

WARM_ENV = "SDGFLOW_WARM"  # "0" runs every job in its own process
RUNTIME_ENV = "SDGFLOW_RUNTIME_DIR"  # where servers keep their sockets (default: per-user tmp)
# Seconds a server stays after its last build ended, for the next build (default: it exits).
IDLE_ENV = "SDGFLOW_WARM_IDLE"
DEFAULT_IDLE_S = 30.0  # a server no build registered with exits after this long without work
BUILD_ENV = "SDGFLOW_WARM_BUILD"  # "PID-STARTTIME" of the Snakemake process running this build
HEADER = struct.Struct("!Q")
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)


class WarmUnavailable(Exception):
    """No warm server could be reached or started; the job runs in-process instead."""


def enabled() -> bool:
    return (os.environ.get(WARM_ENV, "1") != "0" and not os.environ.get("SLURM_JOB_ID")
            and sys.platform == "linux")


def runtime_dir() -> Path:
    """A directory only this user can enter: the socket accepts pickles, so nobody else may."""
    base = os.environ.get(RUNTIME_ENV) or os.environ.get("XDG_RUNTIME_DIR") or \
        tempfile.gettempdir()
    path = Path(base) / f"sdgflow-warm-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not path.is_dir() or path.is_symlink() or info.st_uid != os.getuid() or \
            info.st_mode & 0o077:
        raise WarmUnavailable(f"{path} is not a private directory of this user")
    return path


def server_key() -> str:
    """Changes when the interpreter, any installed package or any sdgflow source file does."""
    import site

    import sdgflow

    parts = [sys.executable, sys.prefix, sys.version]
    for directory in [*site.getsitepackages(), site.getusersitepackages()]:
        if os.path.isdir(directory):
            parts.append(f"{directory}:{os.stat(directory).st_mtime_ns}")
    package = Path(sdgflow.__file__).parent
    for root, _dirs, files in os.walk(package):
        for name in sorted(files):
            if name.endswith(".py"):
                info = os.stat(os.path.join(root, name))
                parts.append(f"{root}/{name}:{info.st_mtime_ns}:{info.st_size}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def server_pids(base: str | Path) -> list[int]:
    """Process ids of the warm servers whose runtime dir is under `base` (SDGFLOW_RUNTIME_DIR)."""
    return [int(p.read_text()) for p in Path(base).glob("sdgflow-warm-*/*.pid")]


def server_paths(directory: Path, key: str) -> dict[str, Path]:
    return {kind: directory / f"{key}.{kind}"
            for kind in ("sock", "lock", "pid", "log", "builds")}


def process_start(pid: int) -> str | None:
    """The start time of live process `pid` (/proc/PID/stat field 22), None once it is gone:
    with the pid it names one process, even after the pid is reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is the state (field 3); a zombie has exited, only its parent has not reaped it.
    return fields[19] if len(fields) > 19 and fields[0] not in ("Z", "X") else None


def register_build(builds: Path) -> None:
    """Tell this installation's servers that the build in BUILD_ENV uses them: they stay while
    it is alive, then SDGFLOW_WARM_IDLE seconds (its value in this build; default 0)."""
    build = os.environ.get(BUILD_ENV, "")
    if not build or "/" in build or build.startswith(".") or (builds / build).exists():
        return
    linger = os.environ.get(IDLE_ENV, "")
    builds.mkdir(mode=0o700, exist_ok=True)
    partial = builds / f".{build}.{os.getpid()}"
    partial.write_text(linger)
    os.replace(partial, builds / build)  # a server never reads a half-written file


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _start_server(paths: dict[str, Path]) -> None:
    """Start a server and return once it listens (it writes one byte when ready)."""
    paths["sock"].unlink(missing_ok=True)
    with paths["log"].open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "sdgflow.jobs.warm_server", str(paths["sock"]),
             str(paths["pid"])], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            start_new_session=True, close_fds=True,
            # Its BLAS is never used; without this numpy starts threads in a process that forks.
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert server.stdout is not None
    ready = server.stdout.read(1)
    server.stdout.close()
    if ready != b"1":
        raise WarmUnavailable(f"the warm server did not start (see {paths['log']})")


def connect() -> socket.socket:
    """A connection to this installation's warm server, starting it if none is running."""
    paths = server_paths(runtime_dir(), server_key())
    if len(str(paths["sock"])) > 100:  # AF_UNIX paths are limited to 108 bytes
        raise WarmUnavailable(f"socket path too long: {paths['sock']}")
    register_build(paths["builds"])
    sock = _connect(paths["sock"])
    if sock is not None:
        return sock
    with paths["lock"].open("a") as lock:
        # Jobs starting together: one starts the server, the others wait here and connect.
        fcntl.flock(lock, fcntl.LOCK_EX)
        sock = _connect(paths["sock"])
        if sock is None:
            _start_server(paths)
            sock = _connect(paths["sock"])
    if sock is None:
        raise WarmUnavailable(f"cannot connect to {paths['sock']}")
    return sock


# Snakemake invocations that never run a job: no server is started for them.
_NO_JOBS = {"-n", "--dry-run", "--dryrun", "--lint", "--list-rules", "-l", "--summary", "-S",
            "--detailed-summary", "-D", "--dag", "--rulegraph", "--filegraph", "--unlock",
            "--cleanup-metadata", "--list-changes", "--lc", "--list-input-changes", "--li",
            "--list-params-changes", "--lp", "--version", "-v", "--help", "-h", "--touch", "-t",
            "--delete-all-output", "--delete-temp-output", "--list-untracked", "--lu"}


def prestart(argv: list[str]) -> None:
    """Boot the server in the background while Snakemake builds its DAG (it takes ~2 CPU-s to
    import everything), unless the command line says no job will run; register this Snakemake
    process as a build the server must stay up for (BUILD_ENV, inherited by its jobs)."""
    if not enabled() or any(a in _NO_JOBS or (a[:1] == "-" and a[1:2] != "-" and "n" in a
                                              and a[1:].isalpha()) for a in argv):
        return
    # This process is the build: its jobs inherit the id and the server watches it.
    start = process_start(os.getpid())
    if start is not None:
        os.environ[BUILD_ENV] = f"{os.getpid()}-{start}"

    def boot() -> None:
        # On failure the first job tries again, and runs in-process if that fails too.
        with contextlib.suppress(WarmUnavailable, OSError):
            connect().close()

    threading.Thread(target=boot, name="sdgflow-warm-prestart", daemon=True).start()


def run(stage: str, job: Any) -> int:
    """Run `stage` for `job` in a warm child; its exit code (128 + signal if it was killed)."""
    sock = connect()
    umask = os.umask(0o022)
    os.umask(umask)
    payload = pickle.dumps({"stage": stage, "job": job, "cwd": os.getcwd(),
                            "env": dict(os.environ), "umask": umask})
    with sock, sock.makefile("rb") as replies:
        socket.send_fds(sock, [HEADER.pack(len(payload))], [0, 1, 2])
        sock.sendall(payload)
        pid_line = replies.readline()
        if not pid_line:
            raise WarmUnavailable("the warm server closed the connection")
        child = int(pid_line)

        def forward(signum: int, _frame: Any) -> None:
            # Snakemake stops a job by signalling it; the stage runs in the child.
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

        for signum in FORWARDED_SIGNALS:
            signal.signal(signum, forward)
        status_line = replies.readline()
    if not status_line:
        print(f"sdgflow: the warm runner lost job process {child}", file=sys.stderr)
        return 1
    code = os.waitstatus_to_exitcode(int(status_line))
    return 128 - code if code < 0 else code
