"""What every Snakemake `script:` adapter calls: run one stage for this job.

Imports only the standard library and sdgflow's plain-data modules, because this is the part
of each job that always runs in a fresh interpreter; the stage itself runs in a warm child
(warm.py) or, when that is off or unreachable, right here.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from sdgflow.stages import warm
from sdgflow.stages.jobspec import JobSpec


def run_job(snakemake_job: Any, stage: str) -> NoReturn:
    job = JobSpec.from_snakemake(snakemake_job)
    if warm.enabled():
        try:
            sys.exit(warm.run(stage, job))
        except warm.WarmUnavailable as why:
            print(f"sdgflow: running {stage} in-process ({why})", file=sys.stderr)
    from sdgflow.stages.jobs import run

    run(stage, job)
    sys.exit(0)
