"""Dropping Snakemake's job rate limit on local runs, and only there."""

from __future__ import annotations

from types import SimpleNamespace

from snakemake.scheduling.job_scheduler import JobRateLimiter
from snakemake.settings.types import MaxJobsPerTimespan

from sdgflow.build.scheduling import drop_local_rate_limit


def workflow(limit: str, local: bool) -> SimpleNamespace:
    scheduler = SimpleNamespace(
        job_rate_limiter=JobRateLimiter(MaxJobsPerTimespan.parse_choice(limit)))
    return SimpleNamespace(scheduler=scheduler, local_exec=local)


def test_the_default_limit_is_dropped_on_a_local_run() -> None:
    local = workflow("100/1s", local=True)  # Snakemake's default
    assert drop_local_rate_limit(local)
    assert local.scheduler.job_rate_limiter is None


def test_a_cluster_run_or_a_chosen_limit_keeps_it() -> None:
    cluster = workflow("100/1s", local=False)
    chosen = workflow("10/1s", local=True)
    assert not drop_local_rate_limit(cluster) and not drop_local_rate_limit(chosen)
    assert cluster.scheduler.job_rate_limiter is not None
    assert chosen.scheduler.job_rate_limiter is not None


def test_the_default_we_recognise_is_snakemakes() -> None:
    from snakemake.cli import get_argument_parser

    from sdgflow.build.scheduling import DEFAULT_LIMIT

    default = get_argument_parser().parse_args([]).max_jobs_per_timespan
    assert (default.max_jobs, default.timespan) == DEFAULT_LIMIT
