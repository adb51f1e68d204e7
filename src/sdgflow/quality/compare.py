"""What an edit changed: two builds' validation.json side by side, and which stage changed.

Each validate run records the build's stage-spec hashes (and per LLM column, hashes of its
prompt, system prompt and settings) under `build` in validation.json, and keeps the previous
build's file beside its own as `<name>.validation.previous.json` (the work dir's
`history/validation.json` carries it from one run to the next, since Snakemake deletes a rule's
outputs before it reruns). The report, the end of the validate job's log and
`sdgflow compare A B` all print `compare(A, B)`.

Plain data and the standard library only: `sdgflow compare` imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# What each stage's spec holds, to say what an edit touched (build/spec.py).
STAGE_READS = {
    "rows": "the seed file, seed_dataset or sampler columns",
    "generate": "LLM columns, models or the simulator",
    "project": "output_projection",
    "validate": "validation: or output_projection",
    "pack": "packing:",
    "report": "report:",
}
PREVIOUS_SUFFIX = ".validation.previous.json"

Kind = Literal["count", "share", "mean", "ratio"]


@dataclass
class Figure:
    label: str
    before: float | None
    after: float | None
    kind: Kind = "count"

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def delta(self) -> str:
        if self.before is None or self.after is None:
            return "new" if self.before is None else "gone"
        diff = self.after - self.before
        if not diff:
            return "="
        shown = {"share": f"{diff * 100:+.1f} pt", "count": f"{diff:+,.0f}",
                 "ratio": f"{diff:+.3f}"}.get(self.kind, f"{diff:+.2f}")
        # (a change too small to show is not "=", which means none)
        return "~0" if float(shown.removesuffix(" pt").replace(",", "")) == 0 else shown

    def show(self, value: float | None) -> str:
        if value is None:
            return "—"
        return {"share": f"{value:.1%}", "count": f"{value:,.0f}",
                "ratio": f"{value:.3f}"}.get(self.kind, f"{value:.2f}")


@dataclass
class Comparison:
    changes: list[str]  # what the edit touched, as sentences
    figures: list[Figure] = field(default_factory=list)

    def text(self, before: str = "previous", after: str = "this build",
             title: str = "what changed") -> str:
        """The side-by-side table the validate and pack logs and `sdgflow compare` print."""
        width = max([len(f.label) for f in self.figures] + [24])
        wa, wb = max(len(before), 10), max(len(after), 10)
        lines = [f"{title} ({before} -> {after}):"]
        lines += [f"  - {change}" for change in self.changes]
        lines.append(f"  {'':<{width}}  {before:>{wa}}  {after:>{wb}}  {'change':>9}")
        for f in self.figures:
            lines.append(f"  {f.label:<{width}}  {f.show(f.before):>{wa}}  "
                         f"{f.show(f.after):>{wb}}  {f.delta():>9}")
        return "\n".join(lines)


# -- the build's identity ---------------------------------------------------------------------


def _short(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()
                          ).hexdigest()[:12]


def build_info(recipe: Any) -> dict[str, Any]:
    """What identifies this build: the recipe, its stage-spec hashes, and per LLM column
    hashes of its prompt, system prompt and other settings, per model alias its identity."""
    from sdgflow.build.spec import digest, model_identity, stage_specs

    stages = {k: digest(v) for k, v in stage_specs(recipe).items() if not k.startswith("rows-")}
    columns = {}
    for column in recipe.llm_columns:
        dumped = column.model_dump()
        columns[column.name] = {
            "prompt": _short(dumped.pop("prompt")),
            "system_prompt": _short(dumped.pop("system_prompt", None)),
            "settings": _short(dumped),
        }
    aliases = sorted({c.model_alias for c in recipe.llm_columns})
    return {"recipe": recipe.name, "records": recipe.num_records, "stages": stages,
            "columns": columns,
            "models": {a: _short(model_identity(recipe, a)) for a in aliases}}


def describe_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """Sentences naming what differs between two builds' `build` records."""
    if not before or not after:
        which = "previous" if not before else "this"
        return [f"the {which} build's summary has no stage hashes (written before sdgflow kept "
                "them): only the figures compare"]
    out = []
    if before.get("recipe") != after.get("recipe"):
        out.append(f"another recipe: {before.get('recipe')} -> {after.get('recipe')}")
    cols_a, cols_b = before.get("columns") or {}, after.get("columns") or {}
    for name in [*cols_a, *(c for c in cols_b if c not in cols_a)]:
        if name not in cols_b:
            out.append(f"column `{name}` removed")
        elif name not in cols_a:
            out.append(f"column `{name}` added")
        else:
            for key, what in (("prompt", "prompt"), ("system_prompt", "system prompt"),
                              ("settings", "settings")):
                if cols_a[name].get(key) != cols_b[name].get(key):
                    out.append(f"{what} of `{name}` edited")
    models_a, models_b = before.get("models") or {}, after.get("models") or {}
    for alias in sorted(set(models_a) & set(models_b)):
        if models_a[alias] != models_b[alias]:
            out.append(f"model `{alias}` changed (model id, provider or identity parameters)")
    if before.get("records") != after.get("records"):
        out.append(f"num_records {before.get('records')} -> {after.get('records')}")
    stages_a, stages_b = before.get("stages") or {}, after.get("stages") or {}
    changed = [s for s in STAGE_READS if stages_a.get(s) != stages_b.get(s)]
    for stage in changed:
        out.append(f"`{stage}` stage spec changed ({STAGE_READS[stage]})")
    if not changed and not out:
        out.append("no stage spec changed: the same recipe (a forced rerun, or its input files "
                   "changed)")
    return out


# -- the figures ---------------------------------------------------------------------------


def _figures(v: dict[str, Any]) -> dict[str, tuple[float | None, Kind]]:
    """label -> (value, kind) of one validation.json."""
    total = (v.get("records_in") or 0) + (v.get("projection_rejects") or 0)
    out: dict[str, tuple[float | None, Kind]] = {
        "records checked": (total, "count"),
        "valid": (v.get("valid"), "count"),
        "pass rate": (v.get("pass_rate"), "share"),
        "rejected": ((v.get("rejected") or 0) + (v.get("projection_rejects") or 0), "count"),
        "warned": (v.get("warned"), "count"),
        "duplicates": (v.get("duplicates"), "count"),
        "near-duplicates": (v.get("near_duplicates"), "count"),
    }
    for code, check in sorted((v.get("checks") or {}).items()):
        if check.get("failed"):
            out[f"code {code}"] = (check["failed"], "count")
    for name, stats in sorted((v.get("judge_scores") or {}).items()):
        out[f"judge {name} mean"] = (stats.get("mean"), "mean")
    d = v.get("diversity") or {}
    if d:
        calls = sum((d.get("tools_called") or {}).values())
        top_call = max((d.get("tools_called") or {}).values(), default=0)
        out.update({
            "tools called (distinct)": (len(d.get("tools_called") or {}), "count"),
            "top tool's share of calls": (top_call / calls if calls else None, "share"),
            "first user turns distinct-2": ((d.get("first_user_turn") or {}).get("distinct_2"),
                                            "ratio"),
            "final answers distinct-2": ((d.get("final_answer") or {}).get("distinct_2"),
                                         "ratio"),
            "top final-answer opening share": ((d.get("final_openings") or {}).get("top_share"),
                                               "share"),
            "words per conversation p50": ((d.get("words_per_row") or {}).get("p50"), "count"),
            "words per conversation mean": ((d.get("words_per_row") or {}).get("mean"), "mean"),
            "collapse signs": (len(d.get("collapse") or []), "count"),
        })
    return out


def _packing_figures(p: dict[str, Any] | None) -> dict[str, tuple[float | None, Kind]]:
    """label -> (value, kind) of one packing.json: token lengths as the trainer counts them."""
    if not p:
        return {}
    records, total = p.get("records") or 0, p.get("total_tokens") or 0
    lengths = p.get("length_percentiles") or {}
    return {
        "tokens per record mean": (total / records if records else None, "mean"),
        "tokens per record p50": (lengths.get("p50"), "count"),
        "tokens per record p90": (lengths.get("p90"), "count"),
        "tokens per record max": (lengths.get("max"), "count"),
        "loss tokens share": (p.get("loss_tokens", 0) / total if total else None, "share"),
        "packs": (p.get("packs"), "count"),
    }


def compare(before: dict[str, Any], after: dict[str, Any],
            packing_before: dict[str, Any] | None = None,
            packing_after: dict[str, Any] | None = None) -> Comparison:
    """`before` and `after` are two validation.json objects (any version of the file); the
    builds' packing.json, when given, add token lengths."""
    fa = _figures(before) | _packing_figures(packing_before)
    fb = _figures(after) | _packing_figures(packing_after)
    return Comparison(describe_changes(before.get("build"), after.get("build")),
                      _side_by_side(fa, fb))


def compare_packing(before: dict[str, Any], after: dict[str, Any]) -> Comparison:
    """Two builds' packing.json: token lengths side by side (the pack stage's log)."""
    return Comparison([], _side_by_side(_packing_figures(before), _packing_figures(after)))


def _side_by_side(fa: dict[str, tuple[float | None, Kind]],
                  fb: dict[str, tuple[float | None, Kind]]) -> list[Figure]:
    figures = []
    for label in [*fa, *(k for k in fb if k not in fa)]:
        value_a, kind = fa.get(label, (None, fb.get(label, (None, "count"))[1]))
        value_b = fb.get(label, (None, kind))[0]
        if label.startswith("code ") and value_a is None:
            value_a = 0.0  # a code that did not fail before failed 0 times
        if label.startswith("code ") and value_b is None:
            value_b = 0.0
        figures.append(Figure(label, value_a, value_b, kind))
    return figures


# -- the previous build's summary ----------------------------------------------------------


def previous_path(validation: str | Path) -> Path:
    """`x.validation.json` -> `x.validation.previous.json` (beside it)."""
    path = Path(validation)
    return path.with_name(path.name.removesuffix(".validation.json") + PREVIOUS_SUFFIX)


def packing_beside(validation: str | Path) -> Path:
    """The packing report of the same build: `x.validation.json` -> `x.packing.json`,
    `x.validation.previous.json` -> `x.packing.previous.json`."""
    path = Path(validation)
    return path.with_name(path.name.replace(".validation.", ".packing.", 1))


def keep_history(validation: str | Path, history: str | Path) -> Path | None:
    """After a validate run: the last build's summary (kept in `history`) goes beside this
    build's as the previous one, and this build's becomes the last. Returns the previous
    summary's path, or None on the first build."""
    return _rotate(Path(validation), Path(history) / "validation.json", previous_path(validation))


def keep_packing_history(packing: str | Path, history: str | Path) -> Path | None:
    """The same for the pack stage's report: `x.packing.json` -> `x.packing.previous.json`."""
    packing = Path(packing)
    previous = packing.with_name(packing.name.removesuffix(".json") + ".previous.json")
    return _rotate(packing, Path(history) / "packing.json", previous)


def _rotate(current: Path, last: Path, previous: Path) -> Path | None:
    kept = None
    if last.is_file():
        shutil.copyfile(last, previous)
        kept = previous
    else:
        previous.unlink(missing_ok=True)  # (one from another history would mislead)
    last.parent.mkdir(parents=True, exist_ok=True)
    tmp = last.with_name(last.name + ".tmp")
    shutil.copyfile(current, tmp)
    tmp.replace(last)
    return kept


def read_json_file(path: str | Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_summary(path: str | Path) -> dict[str, Any]:
    """A validation.json as a dict; ValueError saying what is wrong otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read a validation.json ({exc})") from None
    if not isinstance(data, dict) or "checks" not in data:
        raise ValueError(f"{path}: not a validation.json (no `checks`): pass the "
                         "<name>.validation.json a build wrote")
    return data
