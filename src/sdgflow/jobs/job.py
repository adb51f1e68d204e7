"""What every Snakemake `script:` adapter shares: logging to the job's log, the planned recipe,
and one clear message (exit 2 for a user error, 1 for a failed verdict) instead of a traceback.

Stages are `script:` jobs: Snakemake spawns `run:` jobs as full Snakemake subprocesses that
re-parse the Snakefile, which costs more than a script's interpreter start."""

from __future__ import annotations

import logging
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdgflow.build.plan import load_planned_recipe
from sdgflow.config.errors import ConfigError
from sdgflow.config.models import Recipe

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_file: str | Path | None, verbosity: int = 0) -> None:
    """One format everywhere: the job's own log file plus stderr (Snakemake shows it)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)
    # httpx-style clients log every request line at INFO; keep job logs about our work.
    for noisy in ("httpx", "httpx2", "openai", "httpcore", "httpcore2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class StageFailed(Exception):
    """The stage ran and its verdict is failure (e.g. the quality gate); the message says why."""


def run_stage(job: Any, stage: Callable[[Recipe, Any], None]) -> None:
    """`script:` jobs: run `stage(recipe, job)`; a user error exits 2, a failed stage 1."""
    configure_logging(job.log[0] if job.log else None)
    logging.getLogger("sdgflow").info("%s started (process %d)", job.rule, os.getpid())
    recipe = load_planned_recipe(job.params.recipe)
    try:
        stage(recipe, job)
    except ConfigError as error:
        logging.getLogger("sdgflow").error("%s", error)
        sys.exit(2)
    except StageFailed as failure:
        logging.getLogger("sdgflow").error("%s", failure)
        sys.exit(1)
    # What the stage cost, where users look first when a run is slower or dearer than expected.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    logging.getLogger("sdgflow").info(
        "%s finished: %.2f CPU-s in this process, peak RSS %.0f MB", job.rule,
        usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
