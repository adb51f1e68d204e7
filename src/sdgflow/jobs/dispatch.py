"""Each Snakemake rule's stage, as a function of (recipe, job): the one table both the warm runner
and in-process runs dispatch through.

Imports are inside the functions so an in-process seed job never pays for the LLM client; the
warm runner imports every module in PRELOAD once, before it forks any job.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdgflow.config.models import Recipe
    from sdgflow.jobs.jobspec import JobSpec

PRELOAD = ("sdgflow.seed.stage", "sdgflow.generate.stage", "sdgflow.generate.engine",
           "sdgflow.project.run", "sdgflow.validate.stage", "sdgflow.pack.run",
           "sdgflow.report.build", "sdgflow.simulator.app", "openai.resources.models",
           "openai.pagination", "openai._vendor.httpx_aiohttp.transport")


def warm_up() -> None:
    """Import every stage, and what they would import on first use, in the warm runner."""
    for module in PRELOAD:
        importlib.import_module(module)
    import pyarrow as pa
    import pyarrow.parquet as pq

    # pyarrow imports pandas the first time it builds a table (~0.3 CPU-s a process).
    pq.write_table(pa.table({"warm": ["up"]}), io.BytesIO())


def seed(recipe: Recipe, job: JobSpec) -> None:
    from sdgflow.seed.stage import write_rows

    write_rows(recipe, int(job.wildcards.shard), job.output.rows)


def generate(recipe: Recipe, job: JobSpec) -> None:
    from sdgflow.generate.stage import generate_shard

    generate_shard(recipe, job.input.rows, job.output.shard, job.params.store,
                   job.resources.llm_slots)


def project(recipe: Recipe, job: JobSpec) -> None:
    from sdgflow.project.run import iter_records, project_records

    project_records(chain.from_iterable(iter_records(path) for path in job.input.shards),
                    recipe.output_projection, job.output.projected, job.output.rejects)


def validate(recipe: Recipe, job: JobSpec) -> None:
    from sdgflow.validate.stage import validate_stage

    validate_stage(recipe, job.input.projected, job.input.projection_rejects, job.output.valid,
                   job.output.rejects, job.output.report, log_dir=Path(job.log[0]).parent)


def pack(recipe: Recipe, job: JobSpec) -> None:
    from sdgflow.build.paths import RecipePaths
    from sdgflow.pack.run import compare_with_previous, pack_file

    pack_file(job.input.valid, recipe.packing, job.output.report,
              model_id=recipe.models[0].model)
    compare_with_previous(job.output.report, RecipePaths.of(recipe).work / "history")


def report(recipe: Recipe, job: JobSpec) -> None:
    from sdgflow.report.build import write_report

    write_report(recipe, shards=job.input.shards, valid=job.input.valid,
                 rejects=job.input.rejects, validation=job.input.validation,
                 packing=job.input.packing, out=job.output.html)


STAGES: dict[str, Callable[[Recipe, JobSpec], None]] = {
    "seed": seed, "generate": generate, "project": project, "validate": validate,
    "pack": pack, "report": report,
}


def run(stage: str, job: JobSpec) -> None:
    from sdgflow.jobs.job import run_stage

    run_stage(job, STAGES[stage])
