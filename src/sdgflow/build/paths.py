"""Where each stage's files live for a recipe (the names are part of the contract)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from sdgflow.config.models import Recipe


def relative_if_inside(path: str | Path, base: Path | None = None) -> Path:
    """Snakemake matches targets as strings: keep paths under the working dir relative."""
    path, base = Path(path), (base or Path.cwd())
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())) if path.is_absolute() and \
            path.resolve().is_relative_to(base.resolve()) else path
    except (OSError, ValueError):
        return path


@dataclass(frozen=True)
class RecipePaths:
    output: Path
    work: Path
    store: Path

    @classmethod
    def of(cls, recipe: Recipe) -> RecipePaths:
        output = relative_if_inside(recipe.output_path)
        root = relative_if_inside(recipe.work_dir or Path(recipe.output_dir) / ".sdgflow" /
                                  recipe.name)
        # Preview writes its own files but shares the store: a preview's answers are paid for.
        work = root / "preview" if recipe.preview else root
        return cls(output=output, work=work, store=root / "store")

    def spec(self, stage: str) -> Path:
        return self.work / "specs" / f"{stage}.json"

    def rows(self, shard: int | str) -> Path:
        return self.work / "rows" / f"shard-{shard}.parquet"

    def gen(self, shard: int | str) -> Path:
        return self.work / "gen" / f"shard-{shard}.parquet"

    def retry_spec(self, shard: int | str) -> Path:
        return self.spec(f"retry-{shard}")

    @property
    def projected(self) -> Path:
        return self.work / "projected.jsonl"

    @property
    def projection_rejects(self) -> Path:
        return self.work / "projection_rejects.jsonl"

    def sibling(self, suffix: str) -> Path:
        """`output/sdg/x.jsonl` -> `output/sdg/x<suffix>`."""
        return self.output.with_name(self.output.name.removesuffix(".jsonl") + suffix)

    @property
    def rejects(self) -> Path:
        return self.sibling(".rejects.jsonl")

    @property
    def validation(self) -> Path:
        return self.sibling(".validation.json")

    @property
    def packing(self) -> Path:
        return self.sibling(".packing.json")

    @property
    def report(self) -> Path:
        return self.sibling(".report.html")

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    @property
    def jobs(self) -> Path:
        """Job descriptions too long for a command line (shell_job.py), by content hash."""
        return self.work / "jobs"


def failed_marker(gen_shard: str | Path) -> Path:
    """Left beside a generated shard that holds failed records, so the next run retries them."""
    return Path(gen_shard).with_suffix(".failed.json")


def shard_ranges(num_records: int, shard_size: int) -> list[tuple[int, int]]:
    """Shard k holds records [k*S, min((k+1)*S, N)): earlier shards never move."""
    count = math.ceil(num_records / shard_size)
    return [(k * shard_size, min((k + 1) * shard_size, num_records)) for k in range(count)]
