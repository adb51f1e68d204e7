"""The build plan: what the Snakefile computes at parse time, before any job runs.

- `plan.py`: picks the recipe from `--config` and the targets, writes `W/recipe.json` and the
  stage specs, schedules shard retries and sizes each generation job's slot share: the `PLAN`
  the rules read.
- `spec.py`: each stage's spec (the recipe keys it reads), canonical and hashed: what reruns
  what.
- `paths.py`: where every stage's files live for a recipe (the names are part of the contract).
- `scheduling.py`: Snakemake scheduler settings the Snakefile applies in `onstart:`.

Jobs and commands use some of it too, and it lives here because the plan defines it: the stages
name their files with `paths.py` (so do `sdgflow preview` and `sdgflow report`), generate reads
the identity keys of `spec.py`, and a job reads the recipe the plan wrote with
`plan.load_planned_recipe`.

How a job runs is `sdgflow.jobs`; the stages themselves are `sdgflow.seed`, `generate`,
`project`, `validate`, `pack` and `report`.
"""
