"""`datasets.load_dataset("json")` returns every row of the final JSONL exactly as written.

Datasets before 4.7 infer one Arrow struct per column: every tool gains the other tools'
parameters as nulls, every message the keys of all others. From 4.7 a column whose objects
differ is a Json feature and rows come back as written; `tools_format` / `messages_format:
json_string` is the layout that older loaders read back intact too (measured in the README).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

datasets = pytest.importorskip("datasets")

RECIPE = "customer_support_tools"
# name -> (arguments_format, tools_format, messages_format)
LAYOUTS = {
    "default": ("string", "list", "list"),
    "arguments_object": ("object", "list", "list"),
    "tools_string": ("string", "json_string", "list"),
    "tools_string_object": ("object", "json_string", "list"),
    "all_strings": ("string", "json_string", "json_string"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reference recipe's final JSONL (40 records, offline simulator) in every layout: the
    default one by `sdgflow run`, the others by the project and validate stages' own code on
    the generation shards that run wrote (a whole run per layout costs ~4 s each)."""
    from sdgflow.build.paths import RecipePaths
    from sdgflow.config.load import load_recipe
    from sdgflow.project.run import iter_records, project_records
    from sdgflow.validate.run import validate_file

    project = copy_project(tmp_path_factory.mktemp("project"))
    out = project / "output/sdg"
    done = subprocess.run(
        [sys.executable, "-m", "sdgflow", "run", "-c", RECIPE, "-j", "2", "num_records=40",
         "output_path=output/sdg/default.jsonl", "--target", "output/sdg/default.jsonl"],
        cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    built = {"default": out / "default.jsonl"}
    base = load_recipe(RECIPE, values={"num_records": 40}, configs_dir=project / "configs")
    shards = project / RecipePaths.of(base).work / "gen"
    for name, (arguments, tools, messages) in LAYOUTS.items():
        if name == "default":
            continue
        recipe = load_recipe(RECIPE, [f"output_projection.arguments_format={arguments}",
                                      f"output_projection.tools_format={tools}",
                                      f"output_projection.messages_format={messages}"],
                             values={"num_records": 40}, configs_dir=project / "configs")
        projected, rejects = out / f"{name}.projected.jsonl", out / f"{name}.prejects.jsonl"
        project_records(iter_records(shards), recipe.output_projection, projected, rejects)
        built[name] = out / f"{name}.jsonl"
        validate_file(projected, recipe.validation, recipe.output_projection, built[name],
                      out / f"{name}.rejects.jsonl", out / f"{name}.validation.json",
                      projection_rejects_path=rejects)
    return built


def file_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def loaded_rows(path: Path, cache: Path) -> list[dict]:
    ds = datasets.load_dataset("json", data_files=str(path), split="train",
                               cache_dir=str(cache))
    return [dict(row) for row in ds]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_load_dataset_returns_every_row_as_written(built: dict[str, Path], layout: str,
                                                   tmp_path: Path) -> None:
    written = file_rows(built[layout])
    assert len(written) >= 30  # (the validation gate lets through at least 80% of 40)
    loaded = loaded_rows(built[layout], tmp_path)
    assert len(loaded) == len(written)
    for i, (got, want) in enumerate(zip(loaded, written, strict=True)):
        # as Python objects: no extra keys, no null-filled ones, values and types the same
        assert got == want, f"row {i} of {layout} changed on loading"


@pytest.mark.parametrize(("layout", "reference"), [("tools_string", "default"),
                                                   ("tools_string_object", "arguments_object"),
                                                   ("all_strings", "default")])
def test_json_string_layouts_parse_back_to_the_list_layout(
        built: dict[str, Path], layout: str, reference: str, tmp_path: Path) -> None:
    messages_format = LAYOUTS[layout][2]
    want = file_rows(built[reference])
    loaded = loaded_rows(built[layout], tmp_path)
    assert len(loaded) == len(want)
    for got, row in zip(loaded, want, strict=True):
        assert isinstance(got["tools"], str)
        assert json.loads(got["tools"]) == row["tools"]
        if messages_format == "json_string":
            assert isinstance(got["messages"], str)
            got["messages"] = json.loads(got["messages"])
        assert {**got, "tools": json.loads(got["tools"])} == row


@pytest.mark.parametrize("layout", ["default", "arguments_object", "all_strings"])
def test_loaded_rows_render_as_the_file_rows(built: dict[str, Path], layout: str,
                                             tmp_path: Path) -> None:
    """What a trainer renders from the loaded dataset is what the packing report counted: the
    packer's tokens for the file's lines equal its tokens for the rows `datasets` returns."""
    import orjson

    from sdgflow.pack.render import make_renderer
    from sdgflow.pack.run import process_lines
    from sdgflow.pack.tokenizer import load_tokenizer

    lines = [ln for ln in built[layout].read_bytes().splitlines() if ln.strip()]
    loaded = [orjson.dumps(r) for r in loaded_rows(built[layout], tmp_path)]
    for name, vocab in (("qwen3", "qwen3"), ("harmony", "o200k_harmony")):
        renderer = make_renderer(load_tokenizer(vocab), name)
        a = process_lines(lines, renderer, keep_tokens=True)
        b = process_lines(loaded, renderer, keep_tokens=True)
        assert a.tokens.tolist() == b.tokens.tolist(), name
        assert a.mask.tolist() == b.mask.tolist(), name
        assert not a.problems, a.problems[:3]
