# pack: tokenize and pack the training JSONL as the trainer would; a dry-run report by default.
rule pack:
    input:
        spec=PLAN.paths.spec("pack"),
        valid=PLAN.paths.output,
    output:
        report=report(
            PLAN.paths.packing,
            caption="../report/packing.rst",
            category="Packing",
        ),
    params:
        job=job_params(recipe=PLAN.recipe_file),
    log:
        get_log("pack"),
    conda:
        "../envs/sdgflow.yaml"
    shell:
        stage_command("pack")
