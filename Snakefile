# sdgflow: YAML recipe + seed file -> training-ready tool-calling SFT JSONL.
#
#   snakemake -j8 output/sdg/customer_support_tool_sft.jsonl     (recipe chosen by its output)
#   snakemake -j8 --config sdg=default num_records=200           (recipe chosen by name)
#   snakemake -j8 --config 'set=[models.0.inference_parameters.temperature=0.5]'
#
# Parsing loads and validates the recipe once and writes each stage's spec file only when its
# content changed; every rule takes its spec as an input, so an edit reruns exactly the stages
# whose spec changed, and what depends on their outputs.

import dataclasses
import os
import sys

from sdgflow.config.errors import ConfigError
from sdgflow.build.plan import RECIPE_ENV, SLOTS_ENV, parallel_jobs, plan_build, resource_value
from sdgflow.build.scheduling import drop_local_rate_limit
from sdgflow.jobs.slots import BUDGET_ENV
from sdgflow.jobs.warm import prestart


GLOBAL_SLOTS = resource_value(workflow.global_resources.get("llm_slots"))
try:
    PLAN = plan_build(
        config,
        targets=sys.argv[1:],
        parallel_jobs=parallel_jobs(workflow),
        global_slots=GLOBAL_SLOTS,
    )
except ConfigError as error:
    raise WorkflowError(f"sdgflow config error:\n{error}")

# Cluster jobs re-parse this file on their node, where cores, --jobs and --resources differ:
# they use the slot share the submitting process declared (and Snakemake budgeted).
if workflow.remote_exec and os.environ.get(SLOTS_ENV):
    PLAN = dataclasses.replace(PLAN, slots_per_job=int(os.environ[SLOTS_ENV]))
else:
    os.environ[SLOTS_ENV] = str(PLAN.slots_per_job)


# Stages run in forks of one warm sdgflow process (docs/design.md): start it while the DAG is
# built, so the first job does not wait for its imports. Its jobs share the endpoint budget
# (min of max_parallel_requests and --resources llm_slots) instead of keeping fixed shares.
# prestart registers this process as a build: the server exits once no build using it is alive.
if not workflow.remote_exec:
    os.environ[BUDGET_ENV] = str(GLOBAL_SLOTS or "")
    prestart(sys.argv[1:])


onstart:
    drop_local_rate_limit(workflow)
    # Imported here, not at parse time: the plan pulls in the openai client (~0.45 s), which
    # every parse (dry runs, cluster jobs re-parsing this file) would otherwise pay.
    from sdgflow.generate.forecast import announce

    announce(PLAN.recipe, workflow.dag, logger.info)


envvars:
    RECIPE_ENV,
    SLOTS_ENV,


include: "rules/common.smk"
include: "rules/seed.smk"
include: "rules/generate.smk"
include: "rules/project.smk"
include: "rules/validate.smk"
include: "rules/pack.smk"
include: "rules/report.smk"


localrules:
    all,
    seed,
    report,


rule all:
    input:
        PLAN.paths.output,
        PLAN.paths.packing,
        PLAN.paths.report,
    default_target: True
