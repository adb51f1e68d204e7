# Shared lookups: every path a rule names comes from PLAN.paths (sdgflow.build.paths).
import functools

from sdgflow.build.plan import retry_inputs
from sdgflow.jobs.shell_job import job_params as _job_params
from sdgflow.jobs.shell_job import stage_command as _stage_command

job_params = functools.partial(_job_params, PLAN.paths.jobs)
# Jobs run this interpreter; with --use-conda or a container, the environment's own.
stage_command = functools.partial(
    _stage_command,
    python="python" if workflow.deployment_settings.deployment_method else sys.executable,
)



wildcard_constraints:
    shard=r"\d+",


def get_gen_shards(wildcards):
    return [PLAN.paths.gen(k) for k in PLAN.shards]


def get_retry(wildcards):
    return retry_inputs(PLAN.paths, wildcards.shard)


def get_log(stage, per_shard=False):
    return str(PLAN.paths.logs / stage / ("shard-{shard}.log" if per_shard else "run.log"))
