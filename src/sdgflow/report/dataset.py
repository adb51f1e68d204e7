"""One streaming pass over the valid JSONL: conversation shape counters and sampled rows.

Only counters and `k` sampled rows stay in memory (reservoir sampling, seeded by the recipe so
the same data gives the same samples), so the pass is O(1) in memory for any file size.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from sdgflow.project.layout import decoded
from sdgflow.report.model import DatasetStats


def read_dataset(path: str | Path, samples: int, seed: int,
                 categories: list[str]) -> DatasetStats:
    messages: Counter[int] = Counter()
    calls: Counter[str] = Counter()
    offered: Counter[str] = Counter()
    per_row: Counter[int] = Counter()
    roles: Counter[str] = Counter()
    cats: dict[str, Counter[str]] = {name: Counter() for name in categories}
    reservoir: list[dict[str, Any]] = []
    rng = random.Random(seed)
    rows = 0
    p = Path(path)
    if p.exists():
        with open(p, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # validation wrote this file; a bad line is not ours to report
                if not isinstance(row, dict):
                    continue
                row = decoded(row)  # (the json_string layouts)
                rows += 1
                _count_row(row, messages, calls, offered, per_row, roles, cats)
                # Algorithm R: row i replaces a kept one with probability k / i.
                if len(reservoir) < samples:
                    reservoir.append(row)
                elif samples:
                    j = rng.randrange(rows)
                    if j < samples:
                        reservoir[j] = row
    return DatasetStats(
        rows=rows,
        messages_per_row=dict(sorted(messages.items())),
        tool_calls=dict(calls.most_common()),
        tools_offered=dict(offered.most_common()),
        calls_per_row=dict(sorted(per_row.items())),
        roles=dict(roles.most_common()),
        categories={k: dict(v) for k, v in cats.items()},
        samples=reservoir,
    )


def _count_row(row: dict[str, Any], messages: Counter[int], calls: Counter[str],
               offered: Counter[str], per_row: Counter[int], roles: Counter[str],
               cats: dict[str, Counter[str]]) -> None:
    msgs = row.get("messages")
    msgs = msgs if isinstance(msgs, list) else []
    messages[len(msgs)] += 1
    n_calls = 0
    for message in msgs:
        if not isinstance(message, dict):
            continue
        roles[str(message.get("role"))] += 1
        for call in message.get("tool_calls") or []:
            fn = call.get("function") if isinstance(call, dict) else None
            name = fn.get("name") if isinstance(fn, dict) else None
            calls[str(name)] += 1
            n_calls += 1
    per_row[n_calls] += 1
    for tool in row.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name"):
            offered[str(fn["name"])] += 1
    for name, counter in cats.items():
        if row.get(name) is not None:
            counter[str(row[name])] += 1
