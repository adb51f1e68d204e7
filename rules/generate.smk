# generate: one LLM call per record and LLM column for shard k; every answer goes to the store
# as it arrives, so nothing paid for is ever asked again. A shard that kept failed records
# reruns on the next invocation (its retry spec), re-asking only the failed requests.
rule generate:
    input:
        spec=PLAN.paths.spec("generate"),
        rows=PLAN.paths.rows("{shard}"),
        retry=get_retry,
    output:
        shard=PLAN.paths.gen("{shard}"),
    params:
        job=job_params(recipe=PLAN.recipe_file, store=PLAN.paths.store),
    resources:
        llm_slots=PLAN.slots_per_job,
    log:
        get_log("generate", per_shard=True),
    conda:
        "../envs/sdgflow.yaml"
    shell:
        stage_command("generate", "llm_slots")
