# Shared lookups: every path a rule names comes from PLAN.paths (sdgflow.stages.paths).
from sdgflow.stages.plan import retry_inputs



wildcard_constraints:
    shard=r"\d+",


def get_gen_shards(wildcards):
    return [PLAN.paths.gen(k) for k in PLAN.shards]


def get_retry(wildcards):
    return retry_inputs(PLAN.paths, wildcards.shard)


def get_log(stage, per_shard=False):
    return str(PLAN.paths.logs / stage / ("shard-{shard}.log" if per_shard else "run.log"))
