"""Run one stage for one job: in a warm child when the warm runner is on, else right here.

Imports only the standard library and sdgflow's plain-data modules, because this is the part
of each job that always runs in a fresh interpreter (shell_job.py); the stage itself runs in a
warm child (warm.py) or, when that is off or unreachable, in this process.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from sdgflow.jobs import warm
from sdgflow.jobs.jobspec import JobSpec


def run_spec(job: JobSpec, stage: str) -> NoReturn:
    if warm.enabled():
        try:
            sys.exit(warm.run(stage, job))
        except warm.WarmUnavailable as why:
            print(f"sdgflow: running {stage} in-process ({why})", file=sys.stderr)
    from sdgflow.jobs.dispatch import run

    run(stage, job)
    sys.exit(0)
