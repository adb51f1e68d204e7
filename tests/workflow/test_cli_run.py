"""`sdgflow run` and `sdgflow config`: the CLI drives the same Snakemake build users run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml


def sdgflow(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sdgflow", *args], cwd=project,
                          capture_output=True, text=True, timeout=300)


def test_run_builds_the_recipe_with_dotted_overrides(project: Path) -> None:
    done = sdgflow(project, "run", "-c", "tiny", "-j", "2", "num_records=4",
                   "models.0.inference_parameters.temperature=0.3",
                   "--target", "output/sdg/tiny_sft.jsonl")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = (project / "output/sdg/tiny_sft.jsonl").read_text().splitlines()
    assert len(rows) == 4
    spec = (project / "output/sdg/.sdgflow/tiny/specs/generate.json").read_text()
    assert '"temperature": 0.3' in spec


def test_run_exit_code_is_1_when_the_build_fails(project: Path) -> None:
    (project / "data" / "sft_topics.jsonl").write_text('{"topic": "x"}\n{"topic": \n')
    done = sdgflow(project, "run", "-c", "tiny", "-j", "1", "--target",
                   "output/sdg/tiny_sft.jsonl")
    assert done.returncode == 1
    assert "sft_topics.jsonl:2: bad JSON" in done.stdout + done.stderr


def test_config_show_resolves_but_never_resolves_secrets(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("NVIDIA_API_KEY", "nvapi-very-secret-value")
    done = sdgflow(project, "config", "show", "-c", "customer_support_tools", "num_records=7")
    assert done.returncode == 0, done.stderr
    shown = yaml.safe_load(done.stdout)
    assert shown["num_records"] == 7
    assert shown["seed_dataset"]["path"] == str(project / "data/customer_support_tool_seeds.jsonl")
    assert "nvapi-very-secret-value" not in done.stdout


def config_hashes(project: Path, *overrides: str) -> dict[str, str]:
    out = sdgflow(project, "config", "hash", "--json", "-c", "customer_support_tools", *overrides)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_config_hash_changes_only_for_the_stage_an_edit_touches(project: Path) -> None:
    def hashes(*overrides: str) -> dict[str, str]:
        return config_hashes(project, *overrides)

    base = hashes()
    hotter = hashes("models.0.inference_parameters.temperature=0.1")
    faster = hashes("models.0.inference_parameters.max_parallel_requests=99")
    assert {k for k in base if base[k] != hotter[k]} == {"generate"}
    assert faster == base


def test_config_hash_of_the_row_layouts(project: Path) -> None:
    def hashes(*overrides: str) -> dict[str, str]:
        return config_hashes(project, *overrides)

    base = hashes()
    # the default layout is left out of the specs: hashes from before the keys existed hold
    assert hashes("output_projection.tools_format=list") == base
    for key in ("tools_format", "messages_format"):
        changed = hashes(f"output_projection.{key}=json_string")
        assert {k for k in base if base[k] != changed[k]} == {"project", "validate"}
