# seed: the seed file's rows for shard k, shuffled and with sampled category columns.
rule seed:
    input:
        spec=PLAN.paths.spec("rows-{shard}"),
        seeds=ancient(PLAN.recipe.seed_dataset.path),
    output:
        rows=PLAN.paths.rows("{shard}"),
    params:
        job=job_params(recipe=PLAN.recipe_file),
    log:
        get_log("seed", per_shard=True),
    conda:
        "../envs/sdgflow.yaml"
    shell:
        stage_command("seed")
