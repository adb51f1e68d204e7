"""SimProcess: `sdgflow serve-sim` in its own process on a free loopback port.

For benchmarks, tests and anyone who wants to point a tool at the simulator from Python: it
starts the server, waits for its ready file (the server writes it once it listens), and reads
what the endpoint saw (`/sim/stats`, the per-request log).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


class SimProcess:
    def __init__(self, workdir: Path, *knobs: str, api_key: str | None = None,
                 start_timeout: float = 60.0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        stamp = time.monotonic_ns()
        ready = workdir / f"sim-ready-{stamp}.json"
        self.request_log = workdir / f"sim-requests-{stamp}.jsonl"
        self.stderr_path = workdir / f"sim-stderr-{stamp}.log"
        key = ["--api-key", api_key] if api_key else []
        with self.stderr_path.open("w") as stderr:
            # A session of its own: a test's kill of a snakemake process group never hits it.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sdgflow", "serve-sim", "--host", "127.0.0.1", "--port",
                 "0", "--ready-file", str(ready), "--log-requests", str(self.request_log), *key,
                 *knobs], stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        deadline = time.monotonic() + start_timeout
        while not ready.exists() or not ready.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve-sim did not start: {self.stderr_path.read_text()}")
            time.sleep(0.05)  # polling for the file the server writes once it listens
        self.port = json.loads(ready.read_text())["port"]
        self.url = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/sim/stats", timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/sim/reset", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=30).close()

    def answered(self) -> list[dict[str, Any]]:
        """One entry per answered chat request: fingerprint, status, attempt, time."""
        if not self.request_log.exists():
            return []
        entries = []
        for line in self.request_log.read_bytes().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # the line being written right now
        return entries

    def cpu_seconds(self) -> float | None:
        """user+sys CPU the server has used so far, None if psutil cannot tell."""
        try:
            import psutil

            times = psutil.Process(self.proc.pid).cpu_times()
            return times.user + times.system
        except Exception:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
