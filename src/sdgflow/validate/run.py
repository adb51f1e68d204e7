"""Stream projected rows through the check table: valid rows, rejects, report, quality gate.

Input is `projected.jsonl` (rows with a private `_sdg` key) or a plain final-format JSONL (then
each row's own metadata is its context). Output keeps input order (record_id order) and is
written as it streams; only counters, <= 3 examples per code and the dedupe digests (12 bytes
a valid row) are kept.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel

from sdgflow.project.config import OpenAIMessagesProjection, StructuredMessagesProjection
from sdgflow.project.projections import PROJECTION_CODES
from sdgflow.quality.diversity import DiversityReport, DiversityTally
from sdgflow.quality.table import FirstRecordTable
from sdgflow.validate.checks import (
    CHECKS,
    Conversation,
    active_checks,
    is_tool_calling,
)
from sdgflow.validate.config import ValidationConfig

Projection = StructuredMessagesProjection | OpenAIMessagesProjection

MAX_EXAMPLES = 3
WRITE_BUFFER = 1 << 20
UNPARSEABLE = "row.unparseable"
SDG_INVALID = "row.sdg_invalid"


class GateFailed(Exception):
    """The pass rate is below `validation.min_pass_rate`; raised after every output is written."""

    def __init__(self, message: str, report: ValidationReport) -> None:
        self.report = report
        super().__init__(message)


class CheckCount(BaseModel):
    failed: int = 0
    severity: Literal["error", "warn", "off"]
    stage: Literal["project", "validate"] = "validate"
    description: str


class Example(BaseModel):
    record_id: Any
    message: str


class JudgeScoreStats(BaseModel):
    """One judge criterion over every row whose answer gave it a number (valid or not)."""

    count: int = 0
    mean: float = 0.0
    histogram: dict[str, int] = {}  # score -> rows (the first 20 distinct scores)


class ValidationReport(BaseModel):
    records_in: int = 0
    projection_rejects: int = 0
    valid: int = 0
    rejected: int = 0
    warned: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    pass_rate: float = 0.0
    min_pass_rate: float
    gate_passed: bool = True
    checks: dict[str, CheckCount]
    examples: dict[str, list[Example]] = {}
    repairs: dict[str, int] = {}
    # "<judge column>.<criterion>" -> its scores, for the columns validation.judge names
    judge_scores: dict[str, JudgeScoreStats] = {}
    # Diversity and coverage of the valid rows (sdgflow.quality.diversity)
    diversity: DiversityReport = DiversityReport()
    # The build's stage-spec hashes (sdgflow.quality.compare.build_info), when a build wrote it
    build: dict[str, Any] = {}


def _dump_line(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj) + b"\n"
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


_SDG_KEY = b',"_sdg":'
# How `project` starts the `_sdg` object: the longer the needle, the faster rfind skips.
_SDG_START = b',"_sdg":{"record_id":'


def _read_lines(fh: Any, block_size: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a binary file exactly as iterating it gives them, read in 1 MiB blocks:
    BufferedReader.readline looks for the newline a byte at a time, `bytes.find` with memchr
    (a third of the stage's I/O cost on ~5 KB rows)."""
    rest = b""
    while block := fh.read(block_size):
        start, scan = 0, len(rest)
        if rest:
            block = rest + block
        while (end := block.find(b"\n", scan)) >= 0:
            yield block[start:end + 1]
            start = scan = end + 1
        rest = block[start:]
    if rest:
        yield rest


def _split_projected(line: bytes, tools: SharedTools
                     ) -> tuple[dict[str, Any] | None, Any, bytes | None, bytes | None]:
    """`(row, _sdg value, the row's own line, its tools' text)` of a compact line whose last
    top-level key is `_sdg` (as `project` writes them), else `(None, None, None, None)`.

    `,"_sdg":` is always a key (a `"` inside a string is escaped), and the text before it plus
    `}` parses only when that key is top-level; the rest parses only when it is the last one.
    (The needle is `,"_sdg":{"record_id":`, how `project` writes it; other lines parse whole.)
    The row's line is then the input's own bytes: for a line `project` wrote (orjson) exactly
    what re-serialising the row gives, without the cost. The tools' text is
    `orjson.dumps(row["tools"])` when `tools` knows it (None otherwise).
    """
    cut = line.rfind(_SDG_START)
    if cut <= 0 or not line.endswith(b"}\n"):
        return None, None, None, None
    head = line[:cut] + b"}\n"
    try:
        row, text = tools.load(head)
        sdg = orjson.loads(line[cut + len(_SDG_KEY):-2])
    except orjson.JSONDecodeError:
        return None, None, None, None
    if not row or "_sdg" in row:  # `{,"_sdg":..}` is no object; a repeated key: parse it all
        return None, None, None, None
    return row, sdg, head, text


# How `project` follows the messages with the tools (a `"` in a string is escaped: always a key).
_TOOLS_KEY = b'],"tools":'
_TOOLS_KEY_LEN = len(_TOOLS_KEY)
_EDGE = 48  # bytes of each end of a tools text in its lookup key (the first tool's name, ...)


class SharedTools:
    """Each distinct `tools` text of the input parsed once, its list shared by every row that
    carries it (read only, as all checks are). A recipe gives every row one of a handful of
    tool lists: parsing one is ~40 objects, 40% of parsing a row, and the checks key their
    verdict on the text, which then needs no serialising (nor hashing: it is the same object).

    Where a row's tools end is found by what followed them in the rows they were learned from
    (the next key, or the end of the row); a text is looked up by its length and its first and
    last bytes, then compared whole in place. A row whose tools are not known yet is parsed
    whole, and its tools text learned.
    """

    __slots__ = ("_after", "_count", "_texts")
    MAX_TEXTS = 1024  # then forgotten all at once: memory stays flat whatever the input

    def __init__(self) -> None:
        self._texts: dict[tuple[int, bytes, bytes], list[tuple[bytes, list[Any]]]] = {}
        self._after = b""
        self._count = 0

    def load(self, head: bytes) -> tuple[Any, bytes | None]:
        """`(orjson.loads(head), its tools' text or None)`; raises as orjson.loads does."""
        end = head.rfind(self._after) if self._after else -1
        key = head.rfind(_TOOLS_KEY, 0, end) if end > 0 else -1
        start = key + _TOOLS_KEY_LEN
        known = self._texts.get((end - start, head[start:start + _EDGE], head[end - _EDGE:end]),
                                ()) if key > 0 else ()
        for text, shared in known:
            if head.startswith(text, start):
                around = _around(head, key, end)
                if around is not None:
                    row, rest = around
                    row["tools"] = shared
                    row.update(rest)
                    return row, text
                break
        row = orjson.loads(head)
        return row, self._learn(row, head)

    def _learn(self, row: Any, head: bytes) -> bytes | None:
        listed = row.get("tools") if isinstance(row, dict) else None
        if not isinstance(listed, list):
            return None
        text = orjson.dumps(listed)  # (a parsed value always serialises)
        start = head.rfind(_TOOLS_KEY) + _TOOLS_KEY_LEN
        if not head.startswith(text, start):
            return None  # not the compact text after a `]`
        if len(text) < _EDGE:
            return text  # (too short to look up by its ends; and cheap to parse)
        if self._count >= self.MAX_TEXTS:
            self._texts.clear()
            self._count = 0
        end = start + len(text)
        known = self._texts.setdefault((len(text), text[:_EDGE], text[-_EDGE:]), [])
        if all(other != text for other, _ in known):  # (known, when the next key moved)
            known.append((text, listed))
            self._count += 1
        self._after = (head[end:head.find(b'":', end) + 2] if head.startswith(b',"', end)
                       else head[end:])
        return text


def _around(head: bytes, key: int, end: int) -> tuple[dict[Any, Any], dict[Any, Any]] | None:
    """The members of `head` before its tools (at `key`) and after them (from `end`), or None
    when the tools are no top-level member."""
    if head.startswith(b',"', end):
        after = b"{" + head[end + 1:]
    elif len(head) - end == 2:  # head ends "}\n"
        after = b"{}"
    else:
        return None
    try:
        # The text before the key plus `}` parses only when the key is top-level (as `_sdg`).
        return orjson.loads(head[:key + 1] + b"}"), orjson.loads(after)
    except orjson.JSONDecodeError:
        return None


def _sdg_problem(context: Any, repairs: Any) -> str | None:
    """What is wrong with a row's `_sdg` (checks read its context, the report counts its
    repairs), or None when it is the shape `project` writes."""
    if not isinstance(context, dict):
        return (f"_sdg.context is a {type(context).__name__}, not an object of the record's "
                "columns (as `project` writes it)")
    if repairs and (not isinstance(repairs, list)
                    or not all(isinstance(r, str) for r in repairs)):
        what = (f"a {type(repairs).__name__}" if not isinstance(repairs, list)
                else "a list holding non-strings")
        return f"_sdg.repairs is {what}, not a list of repair names (as `project` writes it)"
    return None


def _write_reject(fh: Any, record_id: Any, codes: list[str], reasons: list[str],
                  row: dict[str, Any] | None, raw: str | None = None) -> None:
    fh.write(_dump_line({"record_id": record_id, "stage": "validate", "codes": codes,
                         "reasons": reasons, "row": row, "raw": raw}))


def validate_file(
    in_path: str | Path,
    validation: ValidationConfig,
    projection: Projection | None,
    out_path: str | Path,
    rejects_path: str | Path,
    report_path: str | Path,
    projection_rejects_path: str | Path | None = None,
    build: dict[str, Any] | None = None,
) -> ValidationReport:
    """Validate every row of `in_path`; raise `GateFailed` (after writing all three outputs)
    when valid / (rows + projection rejects) < `validation.min_pass_rate`."""
    checks = active_checks(validation, projection)
    active = {c.code: sev for c, sev in checks}
    runs = [(c.func, c.code, sev) for c, sev in checks]
    failed: Counter[str] = Counter()
    examples: dict[str, list[Example]] = {}
    repairs: Counter[str] = Counter()
    # conversation digest -> record id of its first valid row, on disk (a dict took ~100
    # bytes a row: 100 MB at 1M rows, beside the near-duplicate index's band keys)
    seen = FirstRecordTable()
    near_index = near_duplicate_index(validation) if "dedupe.near_duplicate" in active else None
    judge_scores: dict[str, JudgeScoreStats] = {}
    diversity = DiversityTally(list(getattr(projection, "metadata_fields", None) or []))
    shared_tools = SharedTools()
    n = valid = rejected = warned = duplicates = near_duplicates = 0
    row_keys = ("messages", "tools") if is_tool_calling(projection) else ("messages",)

    def note(code: str, record_id: Any, message: str) -> None:
        failed[code] += 1
        bucket = examples.setdefault(code, [])
        if len(bucket) < MAX_EXAMPLES:
            bucket.append(Example(record_id=record_id, message=message))

    for path in (out_path, rejects_path, report_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # 1 MiB write buffers: with the default 8 KiB, every fourth ~2 KB row costs a write call.
    with open(in_path, "rb") as src, open(out_path, "wb", buffering=WRITE_BUFFER) as out, \
            open(rejects_path, "wb", buffering=WRITE_BUFFER) as rej:
        for index, line in enumerate(_read_lines(src)):
            if line.isspace():
                continue
            n += 1
            row, sdg, head, tools_text = _split_projected(line, shared_tools)
            if row is None:
                try:
                    row = orjson.loads(line)
                    if not isinstance(row, dict):
                        raise ValueError(f"the line holds a {type(row).__name__}, not an object")
                except ValueError as exc:
                    message = f"line {index + 1} is not a JSON object: {exc}"
                    note(UNPARSEABLE, index, message)
                    rejected += 1
                    _write_reject(rej, index, [UNPARSEABLE], [message], None,
                                  line.decode("utf-8", "replace"))
                    continue
                sdg = row.pop("_sdg", None)
            if isinstance(sdg, dict):
                record_id = sdg.get("record_id", index)
                context = sdg.get("context") or {}
                row_repairs = sdg.get("repairs")
                problem = _sdg_problem(context, row_repairs)
                if problem is not None:
                    message = f"line {index + 1}: {problem}"
                    note(SDG_INVALID, record_id, message)
                    rejected += 1
                    _write_reject(rej, record_id, [SDG_INVALID], [message], row)
                    continue
                if row_repairs:
                    repairs.update(row_repairs)
            else:
                record_id = row.get("record_id", index)
                context = {k: v for k, v in row.items() if k not in row_keys}
            conv = Conversation(row, context, record_id, validation, projection, seen,
                                tools_text, near_index)
            codes: list[str] = []
            reasons: list[str] = []
            is_error = False
            for func, code, severity in runs:
                problems = func(conv)
                if not problems:
                    continue
                sentence = "; ".join(problems)
                codes.append(code)
                reasons.append(sentence)
                note(code, record_id, sentence)
                is_error = is_error or severity == "error"
                if code == "messages.missing":
                    break  # nothing else can be checked without messages
            if conv.judged:
                _tally_judge(conv.judged, judge_scores)
            if codes and "dedupe.duplicate" in codes:
                duplicates += 1
            if codes and "dedupe.near_duplicate" in codes:
                near_duplicates += 1
            if is_error:
                rejected += 1
                _write_reject(rej, record_id, codes, reasons, row)
                continue
            valid += 1
            if codes:
                warned += 1
            if conv.digest is not None:
                seen.setdefault(conv.digest, record_id)
            if conv.near_probe is not None:
                near_index.add(conv.near_probe, record_id)
            diversity.observe(conv.messages, conv.roles, conv.contents,
                              [call.name for call in conv.calls], conv.row.get("tools"), context)
            # A row that passes is written as it was read, minus `_sdg` (see _split_projected).
            out.write(_dump_line(row) if head is None else head)
    seen.close()  # their SQLite scratch files
    if near_index is not None:
        near_index.close()

    projection_rejects = 0
    if projection_rejects_path is not None and Path(projection_rejects_path).exists():
        # The user-facing rejects file holds every reject, whichever stage refused it.
        with open(projection_rejects_path, "rb") as fh, open(rejects_path, "ab") as rej_out:
            for line in fh:
                if not line.strip():
                    continue
                rej_out.write(line if line.endswith(b"\n") else line + b"\n")
                projection_rejects += 1
                entry_ = orjson.loads(line)
                for code, reason in zip(entry_.get("codes", []), entry_.get("reasons", []),
                                        strict=False):
                    note(code, entry_.get("record_id"), reason)

    total = n + projection_rejects
    pass_rate = valid / total if total else 0.0
    counts: dict[str, CheckCount] = {}
    for code, description in PROJECTION_CODES.items():
        counts[code] = CheckCount(failed=failed.get(code, 0), severity="error", stage="project",
                                  description=description)
    counts[UNPARSEABLE] = CheckCount(failed=failed.get(UNPARSEABLE, 0), severity="error",
                                     description="the input line is a JSON object")
    counts[SDG_INVALID] = CheckCount(failed=failed.get(SDG_INVALID, 0), severity="error",
                                     description="the row's `_sdg`, when it is an object, holds "
                                     "an object context and a list of repair names")
    for code, entry in CHECKS.items():
        counts[code] = CheckCount(failed=failed.get(code, 0), severity=active.get(code, "off"),
                                  description=entry.description)
    for code in failed:  # codes from a projection rejects file written by another version
        counts.setdefault(code, CheckCount(failed=failed[code], severity="error",
                                           stage="project", description=""))
    report = ValidationReport(
        records_in=n, projection_rejects=projection_rejects, valid=valid, rejected=rejected,
        warned=warned, duplicates=duplicates, near_duplicates=near_duplicates,
        pass_rate=round(pass_rate, 6),
        min_pass_rate=validation.min_pass_rate, gate_passed=pass_rate >= validation.min_pass_rate,
        checks=counts, examples=examples, repairs=dict(repairs),
        judge_scores={k: v.model_copy(update={"mean": round(v.mean / v.count, 4)})
                      for k, v in sorted(judge_scores.items())},
        diversity=diversity.report(), build=build or {},
    )
    Path(report_path).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if not report.gate_passed:
        raise GateFailed(gate_message(report), report)
    return report


def _tally_judge(judged: dict[str, Any], into: dict[str, JudgeScoreStats]) -> None:
    """Add one row's judge scores (`mean` holds the running sum until the report)."""
    for column, answer in judged.items():
        if isinstance(answer, str):
            continue
        for name, (score, _) in answer.items():
            if score is None:
                continue
            stats = into.setdefault(f"{column}.{name}", JudgeScoreStats())
            stats.count += 1
            stats.mean += score
            key = f"{score:g}"
            if key in stats.histogram or len(stats.histogram) < 20:
                stats.histogram[key] = stats.histogram.get(key, 0) + 1


def near_duplicate_index(validation: ValidationConfig) -> Any:
    """The run's near-duplicate index (imported here: datasketch, and the scipy it imports,
    load only when the check runs)."""
    from sdgflow.quality.near_dup import NearDuplicateIndex

    cfg = validation.near_duplicate
    return NearDuplicateIndex(cfg.threshold, cfg.num_perm, cfg.shingle_words)


def gate_message(report: ValidationReport) -> str:
    total = report.records_in + report.projection_rejects
    top = sorted(((c.failed, code) for code, c in report.checks.items()
                  if c.failed and c.severity == "error"), reverse=True)[:3]
    causes = ", ".join(f"{code} ({count})" for count, code in top) or "no records at all"
    return (
        f"validation gate failed: pass rate {report.pass_rate:.1%} ({report.valid} of {total} "
        f"records valid) is below validation.min_pass_rate={report.min_pass_rate:g}. "
        f"Top failure codes: {causes}. Read the examples in the validation report, fix the "
        "prompt or the recipe, or lower validation.min_pass_rate (or set a check to warn under "
        "validation.checks) if these rejects are acceptable."
    )
