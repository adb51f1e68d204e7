"""Everything the Snakefile needs, computed once at parse time from `--config` and targets."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sdgflow.build.paths import RecipePaths, failed_marker, shard_ranges
from sdgflow.build.spec import canonical, write_if_changed, write_specs
from sdgflow.config.errors import ConfigError
from sdgflow.config.load import CONFIGS_DIR, DOTLIST_KEY, SELECT_KEY, load_recipe
from sdgflow.config.models import Recipe

DEFAULT_RECIPE = "customer_support_tools"
# The main snakemake process records its choice here; cluster jobs inherit the environment and
# re-parse the Snakefile without the command line's targets.
RECIPE_ENV = "SDGFLOW_RECIPE"
SLOTS_ENV = "SDGFLOW_LLM_SLOTS"
OUTPUT_SUFFIXES = (".jsonl", ".json", ".html", ".parquet")


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    paths: RecipePaths
    shards: list[int]
    slots_per_job: int
    recipe_file: Path
    hashes: dict[str, str]


def split_config(config: Mapping[str, Any]) -> tuple[str | None, list[str], dict[str, Any]]:
    """Snakemake `config` -> (selected recipe, dotlist overrides, top-level overrides)."""
    values = dict(config)
    selected = values.pop(SELECT_KEY, None)
    dotlist = values.pop(DOTLIST_KEY, None) or []
    if isinstance(dotlist, str):
        dotlist = [dotlist]
    return (str(selected) if selected else None), [str(e).strip() for e in dotlist], values


def _matches(recipe: Recipe, target: str) -> bool:
    paths = RecipePaths.of(recipe)
    stem = str(paths.output).removesuffix(".jsonl")
    target = str(Path(target))
    return target.startswith(stem) or Path(target).is_relative_to(paths.work)


def select_recipe(selected: str | None, targets: Iterable[str], dotlist: list[str],
                  values: dict[str, Any], configs_dir: Path) -> Recipe:
    if selected:
        return load_recipe(selected, dotlist, values, configs_dir)
    # Snakemake does not expose its targets while parsing, so every command-line word that looks
    # like an output file is compared with each recipe's outputs; other words match nothing.
    targets = [t for t in targets if t.endswith(OUTPUT_SUFFIXES)]
    if targets and configs_dir.is_dir():
        broken: list[ConfigError] = []
        for path in sorted(configs_dir.glob("*.yaml")):
            try:
                recipe = load_recipe(str(path), dotlist, values, configs_dir)
            except ConfigError as error:
                broken.append(error)
                continue
            if any(_matches(recipe, t) for t in targets):
                return recipe
        if broken:
            # The recipe that writes the target may be the one that does not load: say why.
            raise broken[0]
    return load_recipe(os.environ.get(RECIPE_ENV, DEFAULT_RECIPE), dotlist, values, configs_dir)


def plan_build(config: Mapping[str, Any], targets: Iterable[str], parallel_jobs: int,
               global_slots: int | None, configs_dir: Path = CONFIGS_DIR) -> Plan:
    selected, dotlist, values = split_config(config)
    recipe = select_recipe(selected, targets, dotlist, values, configs_dir)
    os.environ[RECIPE_ENV] = recipe.name
    paths = RecipePaths.of(recipe)
    hashes = write_specs(recipe, paths)
    recipe_file = paths.work / "recipe.json"
    write_if_changed(recipe_file, canonical(recipe.model_dump(mode="json")))
    shards = list(range(len(shard_ranges(recipe.num_records, recipe.shard_size))))
    schedule_retries(paths, shards)
    budget = min(m.inference_parameters.max_parallel_requests for m in recipe.models)
    if global_slots:
        budget = min(budget, global_slots)
    # Each generation job takes an equal share of the endpoint budget, so the jobs that can run
    # at once together use all of it and never more (Snakemake enforces the global resource).
    slots = max(1, budget // max(1, min(len(shards), parallel_jobs)))
    return Plan(recipe, paths, shards, slots, recipe_file, hashes)


def schedule_retries(paths: RecipePaths, shards: list[int]) -> None:
    """A shard that kept failed records reruns on the next invocation, and only that shard.

    Its generate job left a marker after writing the shard; a marker newer than the shard's
    retry spec bumps the spec (an input of that shard alone). The rerun takes every stored
    answer from the store and sends only the failed requests.
    """
    for k in shards:
        marker = failed_marker(paths.gen(k))
        spec = paths.retry_spec(k)
        try:
            marked = marker.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        try:
            if spec.stat().st_mtime_ns >= marked:
                continue  # this marker already scheduled its retry
            attempt = orjson.loads(spec.read_bytes())["retry"] + 1
        except FileNotFoundError:
            attempt = 1
        write_if_changed(spec, canonical({"retry": attempt}))


def retry_inputs(paths: RecipePaths, shard: str) -> list[Path]:
    """The retry spec of a shard that ever failed; nothing for the others."""
    spec = paths.retry_spec(shard)
    return [spec] if spec.exists() else []


def resource_value(resource: Any) -> int | None:
    """Snakemake wraps `--resources` values in Resource objects; we need the number."""
    value = getattr(resource, "value", resource)
    return int(value) if isinstance(value, int | float) else None


def parallel_jobs(workflow: Any) -> int:
    """Jobs that may run at once. `--report` and `--lint` give no core count, and Snakemake 9
    raises when `workflow.cores` is read without one; no generation runs then anyway."""
    try:
        cores = workflow.cores
    except Exception:
        cores = None
    return max(cores or 1, workflow.nodes or 1)


def load_planned_recipe(recipe_file: str | Path) -> Recipe:
    """The recipe a job runs with, as resolved by the Snakefile at parse time."""
    return Recipe.model_validate_json(Path(recipe_file).read_bytes())
