# project: every generated shard -> training rows (messages + tools + metadata) and rejects.
rule project:
    input:
        spec=PLAN.paths.spec("project"),
        shards=get_gen_shards,
    output:
        projected=PLAN.paths.projected,
        rejects=PLAN.paths.projection_rejects,
    params:
        job=job_params(recipe=PLAN.recipe_file),
    log:
        get_log("project"),
    conda:
        "../envs/sdgflow.yaml"
    shell:
        stage_command("project")
