"""The pack stage: read validated JSONL, render + tokenize every record, pack, report.

`pack_file` is what the Snakemake rule and `sdgflow pack` call. Records are processed in
chunks (in worker processes when the file is large), tokenized with one batch call per chunk,
and packed on their lengths. With `dry_run: false` the packed sequences are also written as
zstd parquet (row groups of 1000): `input_ids` list<int32>, `loss_mask` list<uint8>
(assistant tokens shifted by one inside each sequence, last token 0), `seq_start_id` list<int32>.
"""

from __future__ import annotations

import gc
import itertools
import logging
import math
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
from pydantic import BaseModel

from sdgflow.pack.bounds import tight_lower_bound
from sdgflow.pack.config import PackingConfig, default_tokenizer_for_model
from sdgflow.pack.packer import pack_sequences
from sdgflow.pack.render import Renderer, make_renderer, template_name
from sdgflow.pack.render.base import add_role_tokens
from sdgflow.pack.template_checks import arguments_format_of, template_warnings
from sdgflow.pack.tokenizer import load_tokenizer

MAX_LISTED = 1000  # cap on listed over-length indices and structural problems
ROW_GROUP = 1000
_PARALLEL_MIN_BYTES = 8 << 20


class StructuralProblem(BaseModel):
    record: int
    code: str
    message: str


class Percentiles(BaseModel):
    p50: float
    p90: float
    p99: float
    max: int


class Histogram(BaseModel):
    bin_edges: list[int]
    counts: list[int]


class RoleTokens(BaseModel):
    tokens: int
    loss_tokens: int
    loss_share: float  # loss_tokens / tokens


class PackingReport(BaseModel):
    input: str
    tokenizer: str
    chat_template: str
    loss_on: str
    pack_size: int
    algorithm: str
    dry_run: bool
    truncate: bool
    records: int
    total_tokens: int
    loss_tokens: int
    # tokens and trainable tokens per message role (assistant turns with tool calls apart)
    loss_by_role: dict[str, RoleTokens]
    # what the chosen template does with this data that a trainer would not want
    template_warnings: list[str]
    length_percentiles: Percentiles
    histogram: Histogram
    over_length: int
    over_length_records: list[int]
    truncated_tokens: int
    packed_sequences: int
    packed_tokens: int
    packs: int
    efficiency: float
    lower_bound: int  # ceil(packed_tokens / pack_size)
    ratio_to_lower_bound: float
    # max(lower_bound, Martello-Toth L2, cardinality bound): no packing needs fewer packs
    tight_lower_bound: int
    ratio_to_tight_lower_bound: float
    problem_count: int
    problem_counts: dict[str, int]
    problems: list[StructuralProblem]
    packed_path: str | None = None
    seconds: float


@dataclass
class _Chunk:
    n: int
    total: np.ndarray
    loss: np.ndarray
    problems: list[tuple[int, str, str]] = field(default_factory=list)
    roles: dict[str, list[int]] = field(default_factory=dict)
    tokens: np.ndarray | None = None  # flat uint32, records back to back
    mask: np.ndarray | None = None  # flat uint8, 1 = assistant (unshifted)


def _resolve(config: PackingConfig, model_id: str | None) -> tuple[str, dict]:
    """The tokenizer name and the renderer's options (plain data: they cross into workers)."""
    tok = config.tokenizer or default_tokenizer_for_model(model_id or "")
    opts = {"chat_template": config.chat_template, "loss_on": config.loss_on,
            "template_kwargs": config.template_kwargs, "today": config.render_date}
    return tok, opts


def _renderer(tok_name: str, opts: dict) -> Renderer:
    opts = dict(opts)
    return make_renderer(load_tokenizer(tok_name), opts.pop("chat_template"), **opts)


def process_lines(lines: list[bytes], renderer: Renderer, keep_tokens: bool,
                  threads: int = 1) -> _Chunk:
    """Render + tokenize a list of JSONL lines (blank lines must already be removed)."""
    gc_was = gc.isenabled()
    gc.disable()  # millions of short-lived containers, no cycles: the cyclic GC only costs
    try:
        return _process_lines(lines, renderer, keep_tokens, threads)
    finally:
        if gc_was:
            gc.enable()


def _process_lines(lines: list[bytes], renderer: Renderer, keep_tokens: bool,
                   threads: int) -> _Chunk:
    n = len(lines)
    ctotal = np.zeros(n, np.int64)
    closs = np.zeros(n, np.int64)
    ntexts = np.zeros(n, np.int64)
    texts: list[str] = []
    tflags: list[bool] = []
    troles: list[str] = []
    problems: list[tuple[int, str, str]] = []
    roles: dict[str, list[int]] = {}
    builders = [] if keep_tokens else None
    render = renderer.render
    loads = orjson.loads
    for i, line in enumerate(lines):
        try:
            rec = loads(line)
        except orjson.JSONDecodeError as e:
            problems.append((i, "invalid_json", f"line is not JSON: {e}"))
            if builders is not None:
                builders.append(None)
            continue
        b = render(rec)
        ctotal[i] = b.ctotal
        closs[i] = b.closs
        ntexts[i] = len(b.texts)
        texts += b.texts
        tflags += b.text_flags
        troles += b.text_roles
        for code, msg in b.problems:
            problems.append((i, code, msg))
        for role, (t, lo) in b.roles.items():
            add_role_tokens(roles, role, t, lo)
        if builders is not None:
            builders.append(b)
    flat, offs = renderer.tok.encode_batch(texts, threads)
    counts = np.diff(offs)
    rec_of = np.repeat(np.arange(n), ntexts)
    total = ctotal + np.bincount(rec_of, weights=counts, minlength=n).astype(np.int64)
    fl = np.asarray(tflags, dtype=bool)
    loss = closs + np.bincount(rec_of, weights=counts * fl, minlength=n).astype(np.int64)
    if troles:  # text pieces' tokens per role, now that they are counted
        keys, role_of = np.unique(np.asarray(troles, dtype=object), return_inverse=True)
        per_role = np.bincount(role_of, weights=counts, minlength=len(keys))
        loss_per_role = np.bincount(role_of, weights=counts * fl, minlength=len(keys))
        for key, t, lo in zip(keys, per_role, loss_per_role, strict=True):
            add_role_tokens(roles, str(key), int(t), int(lo))
    chunk = _Chunk(n, total, loss, problems, roles)
    if keep_tokens:
        chunk.tokens, chunk.mask = _assemble(builders, flat, offs)
    return chunk


def _assemble(builders, flat: np.ndarray, offs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arrays: list[np.ndarray] = []
    pflags: list[bool] = []
    plens: list[int] = []
    k = 0
    const_arr: dict = {}
    for b in builders:
        if b is None:
            continue
        for item, fl in zip(b.items, b.flags, strict=True):
            if isinstance(item, str):
                a = flat[offs[k]:offs[k + 1]]
                k += 1
            elif isinstance(item, int):
                a = const_arr.get(item)
                if a is None:
                    a = const_arr[item] = np.array([item], np.uint32)
            else:
                a = const_arr.get(item)
                if a is None:
                    a = const_arr[item] = np.array(item, np.uint32)
            arrays.append(a)
            pflags.append(fl)
            plens.append(len(a))
    if not arrays:
        return np.zeros(0, np.uint32), np.zeros(0, np.uint8)
    tokens = np.concatenate(arrays).astype(np.uint32, copy=False)
    mask = np.repeat(np.asarray(pflags, np.uint8), np.asarray(plens, np.int64))
    return tokens, mask


def _read_lines(path: str, start: int, end: int) -> list[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    return [ln for ln in data.split(b"\n") if ln.strip()]


def _head_lines(path: Path, limit: int = 200) -> list[bytes]:
    with open(path, "rb") as f:
        return [ln for ln in itertools.islice(f, limit) if ln.strip()]


def _worker(args) -> _Chunk:
    path, start, end, tok_name, opts, keep, threads = args
    renderer = _renderer(tok_name, opts)
    return process_lines(_read_lines(path, start, end), renderer, keep, threads)


def _split(path: Path, parts: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(bounds[-1], size * k // parts))
            f.readline()
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def tokenize_file(in_path: Path, tok_name: str, opts: dict, keep_tokens: bool,
                  workers: int | None = None) -> list[_Chunk]:
    in_path = Path(in_path)
    size = in_path.stat().st_size
    if workers is None:
        try:
            ncpu = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            ncpu = os.cpu_count() or 1
        workers = min(ncpu, 8)
    if workers <= 1 or size < _PARALLEL_MIN_BYTES:
        threads = workers if workers > 1 else 1
        return [_worker((str(in_path), 0, size, tok_name, opts, keep_tokens, threads))]
    load_tokenizer(tok_name)  # fail fast in the parent (and share it with forked workers)
    ranges = _split(in_path, workers * 4)
    jobs = [(str(in_path), a, b, tok_name, opts, keep_tokens, 1) for a, b in ranges]
    with mp.get_context("fork").Pool(workers) as pool:
        return pool.map(_worker, jobs, chunksize=1)


def _write_parquet(path: Path, packs: list[list[int]], tokens: np.ndarray, mask: np.ndarray,
                   starts: np.ndarray, lengths: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # loss_mask[t] = 1 when token t+1 is an assistant token, inside each sequence; last = 0
    shifted = np.zeros(len(mask), np.uint8)
    if len(mask) > 1:
        shifted[:-1] = mask[1:]
    schema = pa.schema([
        ("input_ids", pa.list_(pa.int32())),
        ("loss_mask", pa.list_(pa.uint8())),
        ("seq_start_id", pa.list_(pa.int32())),
    ])
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(str(path), schema, compression="zstd") as w:
        for g in range(0, len(packs), ROW_GROUP):
            group = packs[g:g + ROW_GROUP]
            ids_parts, mask_parts = [], []
            row_off = [0]
            seq_starts, seq_off = [], [0]
            for pack in group:
                pos = 0
                for r in pack:
                    s, n = int(starts[r]), int(lengths[r])
                    ids_parts.append(tokens[s:s + n])
                    m = shifted[s:s + n].copy()
                    m[-1] = 0
                    mask_parts.append(m)
                    seq_starts.append(pos)
                    pos += n
                row_off.append(row_off[-1] + pos)
                seq_off.append(len(seq_starts))
            ids = np.concatenate(ids_parts).astype(np.int32)
            msk = np.concatenate(mask_parts)
            ro = pa.array(np.asarray(row_off, np.int32))
            so = pa.array(np.asarray(seq_off, np.int32))
            table = pa.Table.from_arrays([
                pa.ListArray.from_arrays(ro, pa.array(ids)),
                pa.ListArray.from_arrays(ro, pa.array(msk)),
                pa.ListArray.from_arrays(so, pa.array(np.asarray(seq_starts, np.int32))),
            ], schema=schema)
            w.write_table(table, row_group_size=ROW_GROUP)


def pack_file(in_path: Path | str, config: PackingConfig, report_path: Path | str | None,
              model_id: str | None = None, packed_path: Path | None = None, *,
              workers: int | None = None) -> PackingReport:
    """Render, tokenize and pack `in_path`; write the report JSON (and packed parquet when
    `config.dry_run` is false). `workers`: processes (default: CPU count, capped at 8)."""
    t0 = time.perf_counter()
    in_path = Path(in_path)
    tok_name, opts = _resolve(config, model_id)
    tok = load_tokenizer(tok_name)  # raises ValueError on an unknown name
    renderer = _renderer(tok_name, opts)  # raises ValueError on an unknown template
    template_used = template_name(tok, config.chat_template)
    warnings = template_warnings(renderer, arguments_format_of(_head_lines(in_path)))
    write_packed = not config.dry_run
    if write_packed and packed_path is None:
        base = Path(report_path) if report_path else in_path
        packed_path = base.with_name(base.name.split(".")[0] + ".packed.parquet")
    chunks = tokenize_file(in_path, tok_name, opts, write_packed, workers)

    lengths = np.concatenate([c.total for c in chunks]) if chunks else np.zeros(0, np.int64)
    loss = np.concatenate([c.loss for c in chunks]) if chunks else np.zeros(0, np.int64)
    problems: list[StructuralProblem] = []
    problem_counts: dict[str, int] = {}
    roles: dict[str, list[int]] = {}
    base_idx = 0
    for c in chunks:
        for role, (t, lo) in c.roles.items():
            add_role_tokens(roles, role, t, lo)
        for i, code, msg in c.problems:
            problem_counts[code] = problem_counts.get(code, 0) + 1
            if len(problems) < MAX_LISTED:
                problems.append(StructuralProblem(record=base_idx + i, code=code, message=msg))
        base_idx += c.n
    n = len(lengths)
    cap = config.pack_size
    over = np.flatnonzero(lengths > cap)
    if config.truncate:
        seq_lens = np.minimum(lengths, cap)
        truncated_tokens = int((lengths - seq_lens).sum())
    else:
        seq_lens = np.where(lengths > cap, 0, lengths)
        truncated_tokens = 0
    packs = pack_sequences(seq_lens.tolist(), cap, config.algorithm, config.seed)
    packed_tokens = int(seq_lens.sum())
    packed_seqs = int((seq_lens > 0).sum())
    lower = math.ceil(packed_tokens / cap) if packed_tokens else 0
    tight = max(lower, tight_lower_bound(seq_lens, cap))
    if write_packed:
        tokens = np.concatenate([c.tokens for c in chunks])
        mask = np.concatenate([c.mask for c in chunks])
        starts = np.zeros(n, np.int64)
        if n:
            np.cumsum(lengths[:-1], out=starts[1:])
        _write_parquet(Path(packed_path), packs, tokens, mask, starts, seq_lens)

    if n:
        pct = np.percentile(lengths, [50, 90, 99])
        hi = max(int(lengths.max()), cap)
        edges = np.unique(np.linspace(0, hi, 33).round().astype(np.int64))
        counts, _ = np.histogram(lengths, bins=edges)
        percentiles = Percentiles(p50=float(pct[0]), p90=float(pct[1]), p99=float(pct[2]),
                                  max=int(lengths.max()))
        hist = Histogram(bin_edges=edges.tolist(), counts=counts.tolist())
    else:
        percentiles = Percentiles(p50=0, p90=0, p99=0, max=0)
        hist = Histogram(bin_edges=[0, cap], counts=[0])
    report = PackingReport(
        input=str(in_path),
        tokenizer=tok.name,
        chat_template=str(template_used),
        loss_on=config.loss_on,
        pack_size=cap,
        algorithm=config.algorithm,
        dry_run=config.dry_run,
        truncate=config.truncate,
        records=n,
        total_tokens=int(lengths.sum()),
        loss_tokens=int(loss.sum()),
        loss_by_role={r: RoleTokens(tokens=t, loss_tokens=lo,
                                    loss_share=round(lo / t, 4) if t else 0.0)
                      for r, (t, lo) in sorted(roles.items())},
        template_warnings=warnings,
        length_percentiles=percentiles,
        histogram=hist,
        over_length=len(over),
        over_length_records=over[:MAX_LISTED].tolist(),
        truncated_tokens=truncated_tokens,
        packed_sequences=packed_seqs,
        packed_tokens=packed_tokens,
        packs=len(packs),
        efficiency=packed_tokens / (len(packs) * cap) if packs else 0.0,
        lower_bound=lower,
        ratio_to_lower_bound=len(packs) / lower if lower else 1.0,
        tight_lower_bound=tight,
        ratio_to_tight_lower_bound=len(packs) / tight if tight else 1.0,
        problem_count=sum(problem_counts.values()),
        problem_counts=problem_counts,
        problems=problems,
        packed_path=str(packed_path) if write_packed else None,
        seconds=0.0,
    )
    report.seconds = round(time.perf_counter() - t0, 4)
    if report_path is not None:
        rp = Path(report_path)
        rp.parent.mkdir(parents=True, exist_ok=True)
        tmp = rp.with_name(rp.name + ".tmp")
        tmp.write_bytes(orjson.dumps(report.model_dump(), option=orjson.OPT_INDENT_2))
        os.replace(tmp, rp)
    return report


def compare_with_previous(packing: str | Path, history: str | Path) -> None:
    """Keep this build's packing report and log its token lengths beside the previous
    build's (the token half of what an edit changed; validate logs the rest)."""
    from sdgflow.quality.compare import compare_packing, keep_packing_history, read_json_file

    previous = keep_packing_history(packing, history)
    before = read_json_file(previous) if previous is not None else None
    after = read_json_file(packing)
    if before is not None and after is not None:
        logging.getLogger("sdgflow.pack").info(
            "%s", compare_packing(before, after).text(title="token lengths"))
