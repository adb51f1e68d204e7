"""Diversity and coverage of the valid rows: what was called versus offered, how the seeds'
fields spread, how long conversations are, how varied first user turns and final answers are,
and a plain sentence for each sign of collapse.

Counters only, bounded whatever the input: distinct-n is measured on the first
`SAMPLE_ROWS` valid rows (a figure comparable across builds of any size), value counters stop
learning new values past `MAX_VALUES` and the openings counter sheds its singletons when full.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from typing import Any

from pydantic import BaseModel

SAMPLE_ROWS = 10_000
MAX_VALUES = 1_000
MAX_OPENINGS = 100_000
OPENING_WORDS = 3
TOP = 8
# Signs of collapse (the sentences say which held).
TOOL_SHARE = 0.5  # one tool in more than half of the calls ...
TOOL_SPREAD = 3  # ... while at least this many tools are offered
OPENING_SHARE = 0.2  # more than a fifth of final answers open the same way
FIELD_SHARE = 0.5  # one value of a seed field in more than half of the rows ...
FIELD_SPREAD = 3  # ... while the field has at least this many values
DISTINCT_2_FLOOR = 0.2  # distinct bigrams / bigrams of first user turns or final answers
MIN_ROWS = 20  # fewer rows (calls, answers) say nothing about collapse

_WORD = re.compile(r"[^\W_]+")


class Distribution(BaseModel):
    total: int = 0
    distinct: int = 0  # (at most MAX_VALUES are told apart)
    top: dict[str, int] = {}  # the TOP most common values
    top_share: float = 0.0


class TextDiversity(BaseModel):
    rows: int = 0  # rows measured (the first SAMPLE_ROWS valid rows)
    distinct_1: float = 0.0
    distinct_2: float = 0.0


class DiversityReport(BaseModel):
    rows: int = 0
    tools_called: dict[str, int] = {}
    tools_offered: dict[str, int] = {}  # rows whose tools list has the function
    fields: dict[str, Distribution] = {}
    messages_per_row: dict[str, int] = {}
    words_per_row: dict[str, float] = {}  # mean, p50, p90, max over all message contents
    first_user_turn: TextDiversity = TextDiversity()
    final_answer: TextDiversity = TextDiversity()
    final_openings: Distribution = Distribution()  # the first OPENING_WORDS words, case-folded
    collapse: list[str] = []  # a plain sentence per sign of collapse


class DiversityTally:
    """Fed each valid row's messages, tools and context; `report()` sums them up."""

    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        self.rows = 0
        self.called: Counter[str] = Counter()
        self.offered: Counter[str] = Counter()
        self.values: dict[str, Counter[str]] = {f: Counter() for f in fields}
        self.messages: Counter[int] = Counter()
        self.words: Counter[int] = Counter()
        self.openings: Counter[str] = Counter()
        self.ngrams = {"first_user_turn": _NGrams(), "final_answer": _NGrams()}

    def observe(self, messages: list[Any], roles: list[Any], contents: list[Any],
                called: list[Any], tools: Any, context: dict[str, Any]) -> None:
        self.rows += 1
        self.messages[len(messages)] += 1
        self.words[sum(len(c.split()) for c in contents if isinstance(c, str))] += 1
        self.called.update(name for name in called if isinstance(name, str))
        if isinstance(tools, list):
            self.offered.update({fn["name"] for tool in tools if isinstance(tool, dict)
                                 and isinstance(fn := tool.get("function"), dict)
                                 and isinstance(fn.get("name"), str)})
        for field, counter in self.values.items():
            value = context.get(field)
            if value is not None:
                _count(counter, str(value))
        first_user = next((c for r, c in zip(roles, contents, strict=True)
                           if r == "user" and isinstance(c, str)), None)
        final = contents[-1] if contents and roles[-1] == "assistant" else None
        final = final if isinstance(final, str) and final.strip() else None
        if final is not None:
            opening = " ".join(_WORD.findall(final[:200].casefold())[:OPENING_WORDS])
            self.openings[opening] += 1
            if len(self.openings) > MAX_OPENINGS:  # shed the singletons: the top stays
                self.openings = Counter({k: n for k, n in self.openings.items() if n > 1})
        if self.rows <= SAMPLE_ROWS:
            for key, text in (("first_user_turn", first_user), ("final_answer", final)):
                if text is not None:
                    self.ngrams[key].add(_WORD.findall(text.casefold()))

    def report(self) -> DiversityReport:
        fields = {f: _distribution(c) for f, c in self.values.items() if c}
        openings = _distribution(self.openings, total=sum(self.openings.values()))
        report = DiversityReport(
            rows=self.rows,
            tools_called=dict(self.called.most_common()),
            tools_offered=dict(self.offered.most_common()),
            fields=fields,
            messages_per_row={str(k): n for k, n in sorted(self.messages.items())},
            words_per_row=_percentiles(self.words),
            first_user_turn=self.ngrams["first_user_turn"].report(),
            final_answer=self.ngrams["final_answer"].report(),
            final_openings=openings,
        )
        report.collapse = collapse_sentences(report)
        return report


class _NGrams:
    def __init__(self) -> None:
        self.rows = 0
        self.unigrams: set[str] = set()
        self.bigrams: set[tuple[str, str]] = set()
        self.n1 = self.n2 = 0

    def add(self, words: list[str]) -> None:
        self.rows += 1
        self.unigrams.update(words)
        self.bigrams.update(pairwise(words))
        self.n1 += len(words)
        self.n2 += max(len(words) - 1, 0)

    def report(self) -> TextDiversity:
        return TextDiversity(rows=self.rows,
                             distinct_1=round(len(self.unigrams) / self.n1, 4) if self.n1 else 0,
                             distinct_2=round(len(self.bigrams) / self.n2, 4) if self.n2 else 0)


def _count(counter: Counter[str], value: str) -> None:
    if value in counter or len(counter) < MAX_VALUES:
        counter[value] += 1


def _distribution(counter: Counter[str], total: int | None = None) -> Distribution:
    total = sum(counter.values()) if total is None else total
    top = dict(counter.most_common(TOP))
    return Distribution(total=total, distinct=len(counter), top=top,
                        top_share=round(max(top.values()) / total, 4) if top and total else 0.0)


def _percentiles(counts: Counter[int]) -> dict[str, float]:
    total = sum(counts.values())
    if not total:
        return {}
    out: dict[str, float] = {"mean": round(sum(k * n for k, n in counts.items()) / total, 1)}
    seen = 0
    marks = [("p50", 0.5), ("p90", 0.9)]
    for value in sorted(counts):
        seen += counts[value]
        while marks and seen >= marks[0][1] * total:
            out[marks.pop(0)[0]] = float(value)
    out["max"] = float(max(counts))
    return out


def collapse_sentences(report: DiversityReport) -> list[str]:
    """A plain sentence for each sign that the data collapsed onto one pattern."""
    out = []
    calls = sum(report.tools_called.values())
    if calls >= MIN_ROWS and len(report.tools_offered) >= TOOL_SPREAD:
        tool, count = next(iter(report.tools_called.items()))
        if count / calls > TOOL_SHARE:
            out.append(f"One tool, {tool}, takes {count / calls:.0%} of the {calls} calls while "
                       f"the rows offer {len(report.tools_offered)} tools: the seeds or the "
                       "prompt may steer every conversation to it.")
    openings = report.final_openings
    if openings.total >= MIN_ROWS and openings.top_share > OPENING_SHARE:
        opening = next(iter(openings.top))
        out.append(f"{openings.top_share:.0%} of final answers open the same way "
                   f"(\u201c{opening} \u2026\u201d): the answers may follow one template.")
    for field, dist in report.fields.items():
        if dist.total >= MIN_ROWS and dist.distinct >= FIELD_SPREAD \
                and dist.top_share > FIELD_SHARE:
            value = next(iter(dist.top))
            out.append(f"{dist.top_share:.0%} of rows share one {field} ({value[:60]!r}) "
                       f"among {dist.distinct} values: the seeds' spread did not survive.")
    for name, text in (("first user turns", report.first_user_turn),
                       ("final answers", report.final_answer)):
        if text.rows >= MIN_ROWS and text.distinct_2 < DISTINCT_2_FLOOR:
            out.append(f"The {name} repeat themselves: distinct-2 is {text.distinct_2:.2f} over "
                       f"{text.rows} rows (fewer than {DISTINCT_2_FLOOR:.0%} of their word pairs "
                       "are new).")
    return out
