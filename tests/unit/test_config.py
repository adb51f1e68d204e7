"""Recipe loading: the reference config, overrides, inheritance and every config error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sdgflow.config.errors import ConfigError
from sdgflow.config.load import llm_column_order, load_recipe

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "seed" / \
    "customer_support_tools.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_reference_recipe_loads_with_env_interpolation(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("SDG_OUTPUT_DIR", str(project / "elsewhere"))
    recipe = load_recipe("customer_support_tools")
    assert recipe.output_path == str(project / "elsewhere" / "customer_support_tool_sft.jsonl")
    assert recipe.seed_dataset.path == str(project / "data" / "customer_support_tool_seeds.jsonl")
    assert [c.type for c in recipe.columns] == ["category", "category", "llm_text"]
    assert recipe.output_projection.metadata_fields[-1] == "channel"


def test_shipped_recipe_differs_from_reference_only_where_documented(project: Path) -> None:
    if not REFERENCE.exists():
        pytest.skip("shared/ reference not beside the checkout")
    ours = (project / "configs" / "customer_support_tools.yaml").read_text()
    reference = REFERENCE.read_text()
    body = reference[reference.index("# Multi-turn"):]
    body = body.replace("src/nemotron/steps/sdg/data_designer/data/", "data/")
    ours_without_switch = re.sub(r"# sdgflow: every model.*?provider: offline\n", "", ours,
                                 flags=re.DOTALL)
    # The optional judge column and its gates (docs/quality.md): added, off by default.
    ours_without_switch = re.sub(r"  - name: quality\n    # sdgflow: .*?(?=output_projection:)",
                                 "", ours_without_switch, flags=re.DOTALL)
    ours_without_switch = re.sub(r"# sdgflow: judge gates.*\Z", "", ours_without_switch,
                                 flags=re.DOTALL)
    assert ours_without_switch == body


def test_top_level_and_dotted_overrides(project: Path) -> None:
    recipe = load_recipe("customer_support_tools",
                         ["models.0.inference_parameters.temperature=0.5",
                          "seed_dataset.strategy=ordered"], {"num_records": 200})
    assert recipe.num_records == 200
    assert recipe.models[0].inference_parameters.temperature == 0.5
    assert recipe.seed_dataset.strategy == "ordered"


@pytest.mark.parametrize("values,dotlist,needle", [
    ({"num_recrods": 3}, [], "unknown override key 'num_recrods'"),
    ({}, ["modles.0.model=x"], "unknown override key 'modles.0.model'"),
    ({}, ["num_records"], "is not KEY=VALUE"),
])
def test_unknown_override_keys_list_valid_ones(project: Path, values, dotlist, needle) -> None:
    with pytest.raises(ConfigError) as info:
        load_recipe("customer_support_tools", dotlist, values)
    assert needle in str(info.value)
    assert "num_records" in str(info.value)  # the valid keys are listed


def test_preview_writes_under_a_preview_path(project: Path) -> None:
    recipe = load_recipe("customer_support_tools", [], {"preview": True})
    assert recipe.output_path.endswith("sdg/preview/customer_support_tool_sft.jsonl")


def test_inheritance_and_cycle(project: Path) -> None:
    tiny = load_recipe("tiny")
    assert tiny.num_records == 10 and tiny.output_path.endswith("tiny_sft.jsonl")
    assert [c.name for c in tiny.columns] == ["persona", "user_query", "assistant_response"]
    (project / "configs" / "a.yaml").write_text("defaults: b.yaml\nnum_records: 1\n")
    (project / "configs" / "b.yaml").write_text("defaults: a.yaml\n")
    with pytest.raises(ConfigError, match=r"inherit in a cycle: a\.yaml -> b\.yaml -> a\.yaml"):
        load_recipe("a")


def test_column_dependency_order_follows_prompts(project: Path) -> None:
    recipe = load_recipe("default")
    assert llm_column_order(recipe) == ["user_query", "assistant_response"]


CASES = [
    # (old text, new text, expected fragments: file:line, key path, message)
    ("model_alias: nvidia-text\n    prompt: |\n      Generate",
     "model_alias: nvidia-txt\n    prompt: |\n      Generate",
     [":63:", "columns[2].model_alias", "unknown alias 'nvidia-txt'; known: nvidia-text"]),
    ("type: llm_text", "type: llm_txt", ["columns[2].type", "unknown type 'llm_txt'"]),
    ("- customer_name: {{ customer_name }}", "- customer_name: {{ customer_nme }}",
     ["columns[2].prompt", "undefined variable(s) ['customer_nme']"]),
    ("num_records: 100", "num_records: 0", ["num_records", "greater than 0"]),
    ("num_records: 100", "num_records: -5", ["num_records", "greater than 0"]),
    ("num_records: 100", "num_records: 100\nshard_size: 0", ["shard_size", "greater than 0"]),
    ("    values: [calm, frustrated, rushed, confused]",
     "    values: [calm, frustrated, rushed, confused]\n    weights: [1, 2]",
     ["columns[0]", "weights has 2 entries but values has 4"]),
    ("    inference_parameters:\n      temperature: 0.75",
     "    inference_parameters:\n      temperature: 0.75\n      temprature: 1",
     ["models[0].inference_parameters.temprature", "unknown key"]),
    ("provider: nvidia", "provider: nvidai", ["models[0].provider", "unknown provider 'nvidai'"]),
    ("metadata_fields: [customer_name,", "metadata_fields: [customer_nam,",
     ["output_projection.metadata_fields[0]", "'customer_nam' is neither"]),
    ("  - name: channel", "  - name: urgency", ["columns[1].name", "'urgency' is already used"]),
    ("{{ urgency }}", "{{ urgency }", ["columns[2].prompt", "Jinja syntax error"]),
]


@pytest.mark.parametrize("old,new,fragments", CASES)
def test_config_errors_name_file_line_and_key(project: Path, old, new, fragments) -> None:
    path = project / "configs" / "customer_support_tools.yaml"
    edit(path, old, new)
    if "provider: offline" in path.read_text() and "nvidai" in new:
        edit(path, "provider: offline\n", "")
    with pytest.raises(ConfigError) as info:
        load_recipe("customer_support_tools")
    text = str(info.value)
    assert "configs/customer_support_tools.yaml" in text
    for fragment in fragments:
        assert fragment in text
    assert "fix:" in text


def test_invalid_yaml_names_line(project: Path) -> None:
    path = project / "configs" / "customer_support_tools.yaml"
    edit(path, "num_records: 100", "num_records: [100")
    with pytest.raises(ConfigError, match=r"customer_support_tools.yaml:\d+: invalid YAML"):
        load_recipe("customer_support_tools")


def test_a_key_given_twice_names_both_lines(project: Path) -> None:
    path = project / "configs" / "customer_support_tools.yaml"
    text = path.read_text()
    first = text.splitlines().index("num_records: 100") + 1
    path.write_text(text + "num_records: 5\n")
    with pytest.raises(ConfigError) as error:
        load_recipe("customer_support_tools")
    message = str(error.value)
    assert f"customer_support_tools.yaml:{len(text.splitlines()) + 1}:" in message
    assert f"'num_records' is given twice (first on line {first})" in message
    assert "merge the two" in message


def test_the_same_key_in_different_mappings_is_fine(project: Path) -> None:
    recipe = load_recipe("customer_support_tools")  # `name:` in every column, `type:` ...
    assert len({c.name for c in recipe.columns}) == len(recipe.columns)


def test_unset_env_var_without_default(project: Path, monkeypatch) -> None:
    monkeypatch.delenv("SDGFLOW_UNSET_VAR", raising=False)
    edit(project / "configs" / "customer_support_tools.yaml",
         "output_path: ${output_dir}/customer_support_tool_sft.jsonl",
         "output_path: ${oc.env:SDGFLOW_UNSET_VAR}/x.jsonl")
    with pytest.raises(ConfigError) as info:
        load_recipe("customer_support_tools")
    assert "SDGFLOW_UNSET_VAR" in str(info.value) and "output_path" in str(info.value)


PROVIDER = """providers:
  - name: mine
    endpoint: http://127.0.0.1:9/v1
    api_key: {key}
"""


@pytest.mark.parametrize("key,needle", [
    ("sk-proj-abc123def456", "looks like a literal key"),
    ("${oc.env:OPENAI_API_KEY}", "interpolated"),
])
def test_api_key_must_be_an_env_var_name(project: Path, monkeypatch, key, needle) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-be-resolved")
    path = project / "configs" / "customer_support_tools.yaml"
    edit(path, "models:\n  - alias", PROVIDER.format(key=key) + "models:\n  - alias")
    with pytest.raises(ConfigError) as info:
        load_recipe("customer_support_tools")
    assert needle in str(info.value) and "providers[0].api_key" in str(info.value)
    assert "sk-should-never-be-resolved" not in str(info.value)


def test_llm_columns_in_a_cycle_are_rejected(project: Path) -> None:
    path = project / "configs" / "default.yaml"
    edit(path, "Write one question a {{ persona }}",
         "Write one question a {{ assistant_response }}")
    with pytest.raises(ConfigError, match="cycle: "):
        load_recipe("default")


def test_missing_seed_file_is_a_load_error(project: Path) -> None:
    (project / "data" / "customer_support_tool_seeds.jsonl").unlink()
    with pytest.raises(ConfigError) as info:
        load_recipe("customer_support_tools")
    assert "seed_dataset.path" in str(info.value) and "seed file not found" in str(info.value)
