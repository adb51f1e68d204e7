# report: one self-contained HTML page with the run summary, plots and sample conversations.
rule report:
    input:
        spec=PLAN.paths.spec("report"),
        shards=get_gen_shards,
        valid=PLAN.paths.output,
        rejects=PLAN.paths.rejects,
        validation=PLAN.paths.validation,
        packing=PLAN.paths.packing,
    output:
        html=report(
            PLAN.paths.report,
            caption="../report/dataset.rst",
            category="Dataset",
        ),
    params:
        job=job_params(recipe=PLAN.recipe_file),
    log:
        get_log("report"),
    conda:
        "../envs/sdgflow.yaml"
    shell:
        stage_command("report")
