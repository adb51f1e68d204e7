"""Peer driver: one sdgflow recipe through NVIDIA NeMo Data Designer, for bench_generation.py.

Runs under the peer's own interpreter (a venv where `data_designer` imports; not sdgflow's):

    /path/to/dd-venv/bin/python bench/peer_data_designer.py RECIPE ENDPOINT RECORDS SLOTS

RECIPE is a scratch copy of an sdgflow recipe (YAML, paths already absolute), ENDPOINT the
OpenAI-compatible base URL (`sdgflow serve-sim .../v1`), SLOTS the `max_parallel_requests`
budget given to every model. The API key is the NAME of an environment variable
(SDGFLOW_SIM_KEY), which Data Designer resolves itself, as with any provider.

The recipe maps onto Data Designer as its users would write it: seed dataset (the recipe's
fields and sampling strategy), category samplers, LLM text columns, the model with its
inference parameters and health check setting; then `DataDesigner.create(num_records=...)`
with the default RunConfig (buffer size, row groups, AIMD request admission, profiling).
Every generation call goes to ENDPOINT; nothing is cached or faked here.

Prints one JSON line last: create() wall time, records produced, the LLM columns and the
health checks made, so the bench can check what the simulator received.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import data_designer.config as dd
import pandas as pd
import yaml
from data_designer.interface import DataDesigner

PROVIDER = "sdgflow-sim"
KEY_ENV = "SDGFLOW_SIM_KEY"
# sdgflow inference parameters that Data Designer's ChatCompletionInferenceParams also has.
PARAMS = ("temperature", "top_p", "max_tokens", "timeout", "extra_body")


def model_configs(recipe: dict[str, Any], slots: int) -> list[dd.ModelConfig]:
    models = []
    for model in recipe["models"]:
        given = dict(model.get("inference_parameters") or {})
        dropped = sorted(set(given) - set(PARAMS) - {"max_parallel_requests"})
        if dropped:
            print(f"peer: inference parameters without a Data Designer field, not passed: "
                  f"{dropped}", file=sys.stderr)
        params = {k: v for k, v in given.items() if k in PARAMS}
        models.append(dd.ModelConfig(
            alias=model["alias"], model=model["model"], provider=PROVIDER,
            skip_health_check=bool(model.get("skip_health_check", False)),
            inference_parameters=dd.ChatCompletionInferenceParams(
                **params, max_parallel_requests=slots)))
    return models


def config_builder(recipe: dict[str, Any], models: list[dd.ModelConfig]
                   ) -> tuple[dd.DataDesignerConfigBuilder, list[str]]:
    builder = dd.DataDesignerConfigBuilder(model_configs=models)
    seed = recipe.get("seed_dataset")
    if seed:
        frame = pd.read_json(seed["path"], lines=True)
        if seed.get("fields"):
            frame = frame[seed["fields"]]
        strategy = seed.get("strategy", "shuffle")
        if strategy not in ("shuffle", "ordered"):
            raise SystemExit(f"peer: seed strategy {strategy!r} has no Data Designer equivalent")
        builder.with_seed_dataset(dd.DataFrameSeedSource(df=frame),
                                  sampling_strategy=dd.SamplingStrategy(strategy))
    llm_columns = []
    for column in recipe["columns"]:
        kind = column["type"]
        if kind == "category":
            params = {"values": column["values"]}
            if column.get("weights"):
                params["weights"] = column["weights"]
            builder.add_column(dd.SamplerColumnConfig(
                name=column["name"], sampler_type=dd.SamplerType.CATEGORY,
                params=dd.CategorySamplerParams(**params)))
        elif kind == "llm_text":
            builder.add_column(dd.LLMTextColumnConfig(
                name=column["name"], model_alias=column["model_alias"],
                prompt=column["prompt"], system_prompt=column.get("system_prompt")))
            llm_columns.append(column["name"])
        else:
            raise SystemExit(f"peer: column type {kind!r} is not mapped by this driver")
    return builder, llm_columns


def main() -> None:
    recipe_path, endpoint = sys.argv[1], sys.argv[2]
    records, slots = int(sys.argv[3]), int(sys.argv[4])
    recipe = yaml.safe_load(Path(recipe_path).read_text())
    models = model_configs(recipe, slots)
    builder, llm_columns = config_builder(recipe, models)
    provider = dd.ModelProvider(name=PROVIDER, endpoint=endpoint, provider_type="openai",
                                api_key=KEY_ENV)
    designer = DataDesigner(artifact_path=Path(recipe_path).parents[1] / "dd-artifacts",
                            model_providers=[provider])
    start = time.perf_counter()
    results = designer.create(builder, num_records=records, dataset_name="peer")
    wall = time.perf_counter() - start
    dataset = results.load_dataset()
    used = {c["model_alias"] for c in recipe["columns"] if c["type"] == "llm_text"}
    print(json.dumps({
        "create_wall": wall,
        "rows": len(dataset),
        "filled": {c: int(dataset[c].notna().sum()) for c in llm_columns if c in dataset},
        "llm_columns": llm_columns,
        "health_checks": sum(1 for m in models if m.alias in used and not m.skip_health_check),
        "version": dd.get_library_version(),
    }))


if __name__ == "__main__":
    main()
