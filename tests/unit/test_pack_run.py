"""pack_file end to end: report fields, over-length handling, packed parquet layout, CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from sdgflow.pack.config import PackingConfig
from sdgflow.pack.packer import ALGORITHMS
from sdgflow.pack.render import make_renderer
from sdgflow.pack.run import PackingReport, pack_file
from sdgflow.pack.tokenizer import load_tokenizer

from .test_pack_render import convo


def write_jsonl(path: Path, n: int, bad: bool = True) -> list[dict]:
    recs = []
    for i in range(n):
        rec = convo()
        rec["messages"][1]["content"] += " extra words" * (i % 37)
        rec["record_id"] = i
        recs.append(rec)
    lines = [orjson.dumps(r) for r in recs]
    if bad:
        lines.insert(3, b"{not json")
        lines.insert(5, b"")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return recs


def expected(tok_name: str, rec: dict) -> tuple[list[int], list[int]]:
    tok = load_tokenizer(tok_name)
    b = make_renderer(tok, None).render(rec)
    ids, mask = [], []
    for item, fl in zip(b.items, b.flags, strict=True):
        t = tok.encode_ordinary(item) if isinstance(item, str) else (
            [item] if isinstance(item, int) else list(item))
        ids += t
        mask += [int(fl)] * len(t)
    assert ids == tok.encode(b.text)
    return ids, mask


@pytest.mark.parametrize("workers", [1, 2])
def test_report(tmp_path, workers, monkeypatch):
    import sdgflow.pack.run as run

    monkeypatch.setattr(run, "_PARALLEL_MIN_BYTES", 0)  # exercise the process pool too
    src = tmp_path / "data.jsonl"
    recs = write_jsonl(src, 40)
    out = tmp_path / "r.json"
    rep = pack_file(src, PackingConfig(tokenizer="o200k_harmony", pack_size=1024), out,
                    workers=workers)
    assert PackingReport.model_validate_json(out.read_text()) == rep
    assert rep.records == 41  # the invalid line is a record with a problem
    assert rep.problem_counts == {"invalid_json": 1}
    assert rep.problems[0].record == 3
    lens = [len(expected("o200k_harmony", r)[0]) for r in recs]
    assert rep.total_tokens == sum(lens)
    assert rep.loss_tokens == sum(sum(expected("o200k_harmony", r)[1]) for r in recs)
    assert rep.length_percentiles.max == max(lens)
    assert sum(rep.histogram.counts) == 41
    assert rep.lower_bound == -(-sum(lens) // 1024)
    assert rep.packs >= rep.lower_bound
    assert rep.ratio_to_lower_bound == pytest.approx(rep.packs / rep.lower_bound)
    assert rep.lower_bound <= rep.tight_lower_bound <= rep.packs
    assert rep.ratio_to_tight_lower_bound == pytest.approx(rep.packs / rep.tight_lower_bound)
    assert rep.algorithm == "histogram_exact_fit"
    assert rep.efficiency == pytest.approx(sum(lens) / (rep.packs * 1024))
    assert rep.tokenizer == "o200k_harmony" and rep.chat_template == "harmony"


def test_over_length_listed_or_truncated(tmp_path):
    src = tmp_path / "data.jsonl"
    recs = write_jsonl(src, 10, bad=False)
    lens = [len(expected("llama3", r)[0]) for r in recs]
    cap = sorted(lens)[5]
    rep = pack_file(src, PackingConfig(tokenizer="llama3", pack_size=cap), None)
    over = [i for i, n in enumerate(lens) if n > cap]
    assert rep.over_length == len(over) and rep.over_length_records == over
    assert rep.packed_sequences == 10 - len(over)
    rep = pack_file(src, PackingConfig(tokenizer="llama3", pack_size=cap, truncate=True), None)
    assert rep.packed_sequences == 10
    assert rep.truncated_tokens == sum(n - cap for n in lens if n > cap)


def test_model_id_selects_tokenizer(tmp_path):
    src = tmp_path / "data.jsonl"
    write_jsonl(src, 3, bad=False)
    rep = pack_file(src, PackingConfig(), None, model_id="Qwen/Qwen2.5-7B-Instruct")
    assert (rep.tokenizer, rep.chat_template) == ("qwen2.5", "qwen2.5")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_packed_parquet_layout(tmp_path, algorithm):
    src = tmp_path / "data.jsonl"
    recs = write_jsonl(src, 2500, bad=False)
    tok = "qwen2.5"
    exp = {}
    for r in recs[:40]:
        ids, mask = expected(tok, r)
        exp[tuple(ids)] = mask
    lens = {len(k) for k in exp}
    cap = 2 * max(lens) - 1  # at most one long sequence per pack, many packs
    packed = tmp_path / "out.parquet"
    rep = pack_file(src, PackingConfig(tokenizer=tok, pack_size=cap, dry_run=False,
                                       algorithm=algorithm), tmp_path / "r.json",
                    packed_path=packed)
    assert rep.packed_path == str(packed)
    f = pq.ParquetFile(packed)
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"
    assert f.metadata.num_rows == rep.packs > 1000
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [
        1000] * (rep.packs // 1000) + ([rep.packs % 1000] if rep.packs % 1000 else [])
    schema = f.schema_arrow
    assert str(schema.field("input_ids").type) == "list<element: int32>"
    assert str(schema.field("loss_mask").type) == "list<element: uint8>"
    assert str(schema.field("seq_start_id").type) == "list<element: int32>"
    t = f.read().to_pylist()
    n_seqs = 0
    seen = 0
    for row in t:
        ids, lm, starts = row["input_ids"], row["loss_mask"], row["seq_start_id"]
        assert len(ids) == len(lm) <= cap and starts[0] == 0
        bounds = [*starts, len(ids)]
        for s, e in itertools.pairwise(bounds):
            n_seqs += 1
            seq = tuple(ids[s:e])
            if seq in exp:  # loss mask is the assistant mask shifted left by one, last = 0
                assert lm[s:e] == [*exp[seq][1:], 0]
                seen += 1
    assert n_seqs == 2500 == rep.packed_sequences
    assert seen >= 40
    assert sum(len(r["input_ids"]) for r in t) == rep.total_tokens
    assert np.isclose(rep.efficiency, rep.total_tokens / (rep.packs * cap))


def _cli_app():
    from sdgflow.cli.pack import pack

    app = typer.Typer()
    app.command("pack")(pack)
    app.command("noop")(lambda: None)  # keep typer in multi-command mode
    return app


def test_cli(tmp_path):
    src = tmp_path / "customer_support_tool_sft.jsonl"
    write_jsonl(src, 5, bad=False)
    runner = CliRunner()
    out = tmp_path / "rep.json"
    r = runner.invoke(_cli_app(), ["pack", str(src), "--tokenizer", "llama3", "--pack-size",
                                   "2048", "--dry-run", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads(out.read_text())
    assert rep["records"] == 5 and rep["tokenizer"] == "llama3" and rep["dry_run"] is True
    r = runner.invoke(_cli_app(), ["pack", str(src)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "customer_support_tool_sft.packing.json").exists()
    packed = tmp_path / "p.parquet"
    r = runner.invoke(_cli_app(), ["pack", str(src), "--no-dry-run", "--packed", str(packed),
                                   "--algorithm", "first_fit_shuffle", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert packed.exists()
    for bad in (["--tokenizer", "nope"], ["--pack-size", "0"], ["--algorithm", "worst"],
                ["--no-dry-run"], ["--chat-template", "nope"]):
        r = runner.invoke(_cli_app(), ["pack", str(src), "-o", str(out), *bad])
        assert r.exit_code == 2, (bad, r.output)
    r = runner.invoke(_cli_app(), ["pack", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2
