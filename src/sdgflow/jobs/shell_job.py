"""What every stage rule's `shell:` runs: a light process that hands its job to the warm runner.

    rule seed:
        params:
            job=job_params(recipe=PLAN.recipe_file),
        shell:
            stage_command("seed")

A `script:` job's interpreter imports Snakemake to unpickle its `snakemake` object: ~0.1 CPU-s
before the first useful line, for every job, eight at once in a wave on a laptop's cores.
This one imports the standard library and sdgflow's plain-data modules only (runner.py); the
job's files arrive as one JSON argument built at DAG time (`job_params`), the values Snakemake
decides at run time (threads, resources, log) as arguments of their own.

The JSON holds only what Snakemake's params rerun trigger may compare: paths, wildcards and
the rule's own params, never threads or resources, so changing `-j` reruns nothing. Snakemake
hands the whole shell line to `bash -c` as one argument, which Linux caps at 128 KiB; a job
whose description is longer (the project rule of a build with thousands of shards) gets it
from a file named by its content hash, written when Snakemake evaluates the params.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from sdgflow.jobs.jobspec import Items, JobSpec, items_of, plain
from sdgflow.jobs.runner import run_spec

INLINE_LIMIT = 32 * 1024  # bytes of JSON passed on the command line; longer goes to a file
FILE_PREFIX = "@"


def job_params(spill_dir: str | Path, **params: Any) -> Callable[..., str]:
    """A params function: the job's input, output, wildcards and `params`, as one JSON string
    (or `@PATH` of a file holding it, when it is too long for a command line)."""
    fixed = {name: plain(value) for name, value in params.items()}

    # Snakemake passes these by name: the parameter names are its API.
    def job(wildcards: Any, input: Any, output: Any) -> str:
        text = json.dumps({"input": _packed(input), "output": _packed(output),
                           "wildcards": _packed(wildcards), "params": fixed},
                          separators=(",", ":"))
        return text if len(text) <= INLINE_LIMIT else FILE_PREFIX + str(_spill(spill_dir, text))

    return job


def _spill(directory: str | Path, text: str) -> Path:
    data = text.encode()
    path = Path(directory) / f"{hashlib.sha256(data).hexdigest()[:24]}.json"
    if not path.exists():  # same content, same name: cluster nodes re-evaluating agree
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(data)
        partial.replace(path)
    return path


def stage_command(stage: str, *resources: str, python: str = sys.executable) -> str:
    """The `shell:` line of a stage's rule; `resources` are the ones the stage reads."""
    # Braces would be read as Snakemake placeholders; the path is quoted for the shell.
    exe = shlex.quote(python).replace("{", "{{").replace("}", "}}")
    extra = "".join(f" --resource {name}={{resources.{name}}}" for name in resources)
    return (f"{exe} -m sdgflow.jobs.shell_job {stage} {{params.job:q}} --threads {{threads}} "
            f"--log {{log:q}}{extra}")


def spec_from_argv(argv: list[str]) -> JobSpec:
    """The JobSpec of `STAGE JOB --threads N --log PATH [--resource NAME=VALUE ...]`."""
    rule, arg, rest = argv[0], argv[1], argv[2:]
    job = json.loads(Path(arg[1:]).read_bytes() if arg.startswith(FILE_PREFIX) else arg)
    options: dict[str, list[str]] = {"--threads": [], "--log": [], "--resource": []}
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        options[flag].append(value)
    resources = dict(item.split("=", 1) for item in options["--resource"])
    return JobSpec(
        rule=rule, input=_unpacked(job["input"]), output=_unpacked(job["output"]),
        params=Items(list(job["params"].values()), job["params"]),
        wildcards=_unpacked(job["wildcards"]),
        resources=Items(list(resources.values()),
                        {k: int(v) if v.isdigit() else v for k, v in resources.items()}),
        log=Items(options["--log"], {}), threads=int(options["--threads"][0]))


def _packed(namedlist: Any) -> dict[str, Any]:
    spec = items_of(namedlist)
    return {"items": list(spec), "named": dict(spec.__dict__)}


def _unpacked(packed: dict[str, Any]) -> Items:
    return Items(packed["items"], packed["named"])


def main() -> NoReturn:
    job = spec_from_argv(sys.argv[1:])
    run_spec(job, job.rule)


if __name__ == "__main__":
    main()
