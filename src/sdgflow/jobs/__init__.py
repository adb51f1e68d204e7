"""The job runtime: how one Snakemake job runs its stage.

A stage rule's `shell:` line runs `python -m sdgflow.jobs.shell_job`, a light client: it turns
its arguments into a `JobSpec` (`jobspec.py`, plain data) and `runner.py` hands that to the warm
runner (`warm.py` the client, `warm_server.py` the server that forks a child per job), or runs
it in-process when the warm runner is off or unreachable. Either way `dispatch.py` maps the rule
to its stage function and `job.py` runs it (logging, exit codes 1 and 2). `slots.py` shares the
endpoint budget among the jobs the warm runner forks.

Parse time uses some of it too, and it lives here because what it describes is how a job runs:
the rules build their `shell:` lines and job arguments with `shell_job.stage_command` and
`job_params`, and the Snakefile starts the warm server early (`warm.prestart`) and sets the
shared budget (`slots.BUDGET_ENV`). The stages use `slots.SharedSlots` (generate) and
`job.StageFailed` (validate); the CLI uses `job.configure_logging`.

This file imports nothing: every job's client imports it, and its start-up is the point.
What the Snakefile computes before any job runs is `sdgflow.build`.
"""
