"""The openai client's own CPU per request: the floor any tool built on it pays, sdgflow included.

Sends N of the run's own requests (rendered by sdgflow from the project's rows, their seeds
shifted so the simulator never counts them as repeats) through a bare AsyncOpenAI client with
openai's aiohttp transport, `concurrency` at a time, and prints one JSON line with the CPU
seconds per request of this process after a warm-up round (imports, connections). Nothing of
sdgflow runs while it is measured: no store, no retries, no progress, no parquet.

    python bench/client_floor.py --recipe configs/customer_support_tools.yaml \
        --rows output/.../rows/shard-0.parquet --requests 1000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from typing import Any


def bodies(recipe_path: str, rows_path: str, n: int) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    from sdgflow.config.load import load_recipe
    from sdgflow.config.models import LLMColumn
    from sdgflow.generate.request import build_request

    recipe = load_recipe(recipe_path)
    column = next(c for c in recipe.columns if isinstance(c, LLMColumn))
    rows = pq.ParquetFile(rows_path).read().to_pylist()
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        body = build_request(recipe, column, dict(row), row["record_id"])
        body["seed"] += 1 + i  # a new fingerprint: the simulator's repeat count stays the run's
        out.append(body)
    return out


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def send_all(base_url: str, requests: list[dict[str, Any]], concurrency: int,
                   warm_up: int) -> tuple[float, float]:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=os.environ.get("SDGFLOW_SIM_KEY", "x"),
                                http_client=openai.DefaultAioHttpClient(), max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, Any]) -> None:
        async with gate:
            await client.chat.completions.create(**body)

    await asyncio.gather(*(one(b) for b in requests[:warm_up]))
    cpu0, t0 = cpu(), time.perf_counter()
    await asyncio.gather(*(one(b) for b in requests[warm_up:]))
    cpu1, t1 = cpu(), time.perf_counter()
    await client.close()
    return cpu1 - cpu0, t1 - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--rows", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    warm_up = args.concurrency
    requests = bodies(args.recipe, args.rows, args.requests + warm_up)
    cpu_s, wall_s = asyncio.run(send_all(args.base_url, requests, args.concurrency, warm_up))
    print(json.dumps({"requests": args.requests, "cpu_s": cpu_s, "wall_s": wall_s,
                      "cpu_ms_per_request": 1000 * cpu_s / args.requests}))


if __name__ == "__main__":
    main()
