# validate: projected rows -> the training JSONL (valid only), rejects with codes, a report;
# fails after writing the report when the pass rate is under validation.min_pass_rate.
rule validate:
    input:
        spec=PLAN.paths.spec("validate"),
        projected=PLAN.paths.projected,
        projection_rejects=PLAN.paths.projection_rejects,
    output:
        valid=PLAN.paths.output,
        rejects=PLAN.paths.rejects,
        report=report(
            PLAN.paths.validation,
            caption="../report/validation.rst",
            category="Validation",
        ),
    params:
        job=job_params(recipe=PLAN.recipe_file),
    log:
        get_log("validate"),
    conda:
        "../envs/sdgflow.yaml"
    shell:
        stage_command("validate")
