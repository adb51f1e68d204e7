"""Snakemake scheduler settings that only cost time on a local run.

Snakemake's default `--max-jobs-per-timespan 100/1s` protects a cluster's controller from
submission bursts. On a local run it only adds latency: after every scheduling round the
scheduler starts a non-daemon 1 s `threading.Timer` to re-evaluate, and Python waits for the
last one before the process exits (~0.6 s of every `snakemake` command here).
"""

from __future__ import annotations

from typing import Any

DEFAULT_LIMIT = (100, 1)  # Snakemake 9's --max-jobs-per-timespan default: 100 jobs per 1 s


def drop_local_rate_limit(workflow: Any) -> bool:
    """Called from `onstart:` (the scheduler exists then): True when the limit was dropped.

    Only for local execution and only when the limit is Snakemake's default, so a limit the
    user asked for (or a cluster run) keeps it.
    """
    scheduler = getattr(workflow, "scheduler", None)
    limiter = getattr(scheduler, "job_rate_limiter", None)
    limit = getattr(limiter, "_limit", None)
    if limiter is None or limit is None or not getattr(workflow, "local_exec", False):
        return False
    if (limit.max_jobs, limit.timespan) != DEFAULT_LIMIT:
        return False
    scheduler.job_rate_limiter = None
    return True
