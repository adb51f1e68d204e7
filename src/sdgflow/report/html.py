"""`ReportData` -> one self-contained HTML page (inline CSS and SVG, no script, no network).

Sections carry stable ids (`#summary`, `#changes`, `#validation`, `#quality`, `#lengths`,
`#packing`, `#tools`, `#messages`, `#categories`, `#samples`, `#rejects`) that the browser test
and the nav use.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files

from sdgflow.report import fmt
from sdgflow.report.charts import (
    Bar,
    Marker,
    grouped_hbar,
    hbar_chart,
    histogram,
    meter,
    stacked_bar,
    vbar_chart,
)
from sdgflow.report.conversation import render_conversation
from sdgflow.report.model import ReportData

FULL = 1150  # px of a full-width card's content; charts are drawn at their display size
NAV = (("summary", "Summary"), ("changes", "Changes"), ("validation", "Validation"),
       ("quality", "Quality"), ("lengths", "Lengths"),
       ("packing", "Packing"), ("tools", "Tools"), ("messages", "Turns"),
       ("categories", "Categories"), ("samples", "Samples"), ("rejects", "Rejects"))


def _css() -> str:
    return (files("sdgflow.report") / "style.css").read_text(encoding="utf-8")


def render(data: ReportData) -> str:
    title = f"{data.recipe_name} · sdgflow dataset report"
    sections = [
        _summary(data), _changes(data), _validation(data), _quality(data),
        '<div class="grid2">', _lengths(data), _packing(data), "</div>",
        '<div class="grid2">', _tools(data), _messages(data), "</div>",
        _categories(data), _samples(data), _rejects(data),
    ]
    nav = "".join(f'<a href="#{key}">{label}</a>' for key, label in NAV)
    banner = ""
    if data.offline:
        g = data.generation
        scope = "every record" if g.offline_records >= g.records else (
            f"{fmt.count(g.offline_records)} of {fmt.count(g.records)} records")
        banner = (f'<div class="banner offline" id="offline-banner" role="note"><strong>'
                  f"Generated offline by the simulator</strong> — {scope} came from the "
                  "built-in offline simulator, not a real model. Use it to check the pipeline;"
                  " do not train on it.</div>")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No network at view time, enforced: nothing on this page may load a resource.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f'<meta name="generator" content="sdgflow"><style>{_css()}</style></head>'
        f'<body><header class="top"><div class="wrap">'
        f'<div class="brand">sdgflow <span>dataset report</span></div>'
        f'<h1>{escape(data.recipe_name)}</h1>'
        f'<div class="subtitle"><code>{escape(data.output_path)}</code>'
        f" · built {escape(data.created)}</div>"
        f'<nav>{nav}</nav></div></header><main class="wrap">{banner}'
        + "".join(sections)
        + '</main><footer class="wrap">sdgflow · self-contained report: inline CSS and SVG, '
        "no scripts, no network.</footer></body></html>\n"
    )


def _section(key: str, title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return (f'<section id="{key}" class="card"><h2>{escape(title)}</h2>{note_html}{body}'
            "</section>")


def _kpi(label: str, value: str, sub: str = "", key: str = "", tone: str = "") -> str:
    return (f'<div class="kpi {tone}" data-kpi="{escape(key, quote=True)}">'
            f'<div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>'
            f'<div class="sub">{sub}</div></div>')


def _summary(data: ReportData) -> str:
    g, v = data.generation, data.validation
    valid = v.valid if v.present else data.dataset.rows
    generated = g.records - g.failed_records
    total = v.records_in + v.projection_rejects
    gate = (f"gate ≥ {fmt.share(v.min_pass_rate, 0)} "
            + ('<span class="ok">passed</span>' if v.gate_passed
               else '<span class="bad">failed</span>')) if v.present else "no validation.json"
    cost = g.cost
    priced = any(m.cost is not None for m in g.models)
    kpis = [
        _kpi("Records asked", fmt.count(data.asked), f"{g.shards} shard(s)", "asked"),
        _kpi("Generated", fmt.count(generated),
             f"{fmt.count(g.failed_records)} failed after retries", "generated"),
        _kpi("Valid", fmt.count(valid), f"{fmt.pct(valid, total)} pass rate · {gate}", "valid",
             "good" if v.gate_passed else "badkpi"),
        _kpi("Rejected", fmt.count(data.rejected_total),
             f"{fmt.count(v.projection_rejects)} at projection · {fmt.count(v.rejected)} at "
             "validation", "rejected", "warnkpi" if data.rejected_total else ""),
        _kpi("Tokens", fmt.compact(g.tokens),
             f"{fmt.compact(sum(m.prompt_tokens for m in g.models))} prompt · "
             f"{fmt.compact(sum(m.completion_tokens for m in g.models))} completion", "tokens"),
        _kpi("Est. cost", fmt.money(cost) if priced else "—",
             "from report.prices" if priced else "set <code>report.prices.&lt;alias&gt;</code>"
             " to estimate", "cost"),
        _kpi("Wall time", fmt.duration(g.wall_s),
             f"from shard file times · Σ latency {fmt.duration(g.latency_sum_s)}", "wall"),
        _kpi("Requests sent", fmt.count(g.requests),
             f"{fmt.count(g.from_store)} of {fmt.count(g.answers)} answers from the store",
             "requests"),
    ]
    funnel = stacked_bar("funnel", [
        Bar("valid", valid - v.warned, fmt.count(valid - v.warned), "ok",
            f"valid: {valid - v.warned}"),
        Bar("valid with warnings", v.warned, fmt.count(v.warned), "warn",
            f"valid with warnings: {v.warned}"),
        Bar("rejected at validation", v.rejected, fmt.count(v.rejected), "bad",
            f"rejected at validation: {v.rejected}"),
        Bar("rejected at projection", v.projection_rejects, fmt.count(v.projection_rejects),
            "bad2", f"rejected at projection: {v.projection_rejects}"),
        Bar("not generated", max(data.asked - total, 0), fmt.count(max(data.asked - total, 0)),
            "muted", "asked but not in the projected rows"),
    ] if v.present else [Bar("valid rows", data.dataset.rows, fmt.count(data.dataset.rows),
                             "ok")], width=FULL, height=26, aria="record funnel")
    legend = _legend([("ok", "valid"), ("warn", "valid, warned"), ("bad", "rejected at "
                      "validation"), ("bad2", "rejected at projection"), ("muted", "missing")])
    latency = (f'<p class="note">Latency per answered request: p50 '
               f"{fmt.duration(g.latency_p50_s)}, p95 {fmt.duration(g.latency_p95_s)}."
               + (" Finish reasons: " + ", ".join(f"<code>{escape(k)}</code> {fmt.count(n)}"
                                                  for k, n in g.finish_reasons.items())
                  if g.finish_reasons else "") + "</p>")
    return _section("summary", "Run summary",
                    f'<div class="kpis">{"".join(kpis)}</div>'
                    f'<h3>Where the records went</h3>{funnel}{legend}'
                    f"<h3>Models</h3>{_models_table(data)}{latency}")


def _legend(items: list[tuple[str, str]]) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i class="sw tone-{tone}"></i>{escape(label)}</span>' for tone, label in items
    ) + "</div>"


def _models_table(data: ReportData) -> str:
    rows = []
    for m in data.generation.models:
        rows.append(
            f"<tr><td><code>{escape(m.alias)}</code></td><td>{escape(m.model)}</td>"
            f"<td>{escape(m.provider)}</td><td class='num'>{fmt.count(m.answers)}</td>"
            f"<td class='num'>{fmt.count(m.requests)}</td>"
            f"<td class='num'>{fmt.count(m.from_store)}</td>"
            f"<td class='num'>{fmt.count(m.failed)}</td>"
            f"<td class='num'>{fmt.count(m.prompt_tokens)}</td>"
            f"<td class='num'>{fmt.count(m.completion_tokens)}</td>"
            f"<td class='num'>{fmt.money(m.cost)}</td>"
            f"<td class='num'>{fmt.money(m.fresh_cost)}</td></tr>")
    if not rows:
        return '<p class="empty">No generation shards found.</p>'
    return ('<div class="scroll"><table class="models"><thead><tr><th>alias</th><th>model</th>'
            "<th>provider</th><th class='num'>answers</th><th class='num'>requests sent</th>"
            "<th class='num'>from store</th><th class='num'>failed</th>"
            "<th class='num'>prompt tok</th><th class='num'>completion tok</th>"
            "<th class='num'>est. cost</th><th class='num'>this run</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _validation(data: ReportData) -> str:
    v = data.validation
    if not v.present:
        return _section("validation", "Validation pass rate per check",
                        '<p class="empty">validation.json not available.</p>')
    bars = []
    for c in v.checks:
        if c.severity == "off":
            bars.append(Bar(c.code, 0, "off", "muted", f"{c.code}: off — {c.description}"))
            continue
        tone = "ok" if not c.failed else ("warn" if c.severity == "warn" else "bad")
        shown = fmt.share(c.pass_rate) + (f" · {fmt.count(c.failed)} failed" if c.failed else "")
        bars.append(Bar(c.code, 100 * c.pass_rate, shown, tone,
                        f"{c.code} ({c.stage}, {c.severity}): {c.failed} of {c.checked} failed"
                        f" — {c.description}"))
    chart = hbar_chart("pass-rate", bars, max_value=100, row=20, label_mono=True,
                       width=FULL, aria="validation pass rate per check")
    failing = sum(1 for c in v.checks if c.failed)
    total = v.records_in + v.projection_rejects
    note = (f"{fmt.count(v.valid)} of {fmt.count(total)} records valid "
            f"({fmt.share(v.pass_rate)}); {len(v.checks)} checks, {failing} with failures. "
            "Projection checks count every generated record, validation checks the rows that "
            "parsed. Hover a bar for the check's rule.")
    repairs = ""
    if v.repairs:
        chips = "".join(f'<span class="chip repair"><code>{escape(k)}</code> {fmt.count(n)}'
                        "</span>" for k, n in sorted(v.repairs.items(), key=lambda kv: -kv[1]))
        repairs = f'<div class="repairs"><span class="label">Repairs applied</span>{chips}</div>'
    legend = _legend([("ok", "no failures"), ("bad", "error check failed"),
                      ("warn", "warn check failed"), ("muted", "off")])
    return _section("validation", "Validation pass rate per check",
                    f'<div class="chart-box">{chart}</div>{legend}{repairs}', note)


def _changes(data: ReportData) -> str:
    """This build next to the previous build of the recipe, and which stage changed."""
    title = "What changed since the previous build"
    c = data.comparison
    if c is None:
        return _section("changes", title, '<p class="empty">No previous build of this recipe '
                        "kept yet: the next build will be compared with this one.</p>")
    changes = "".join(f"<li>{_code_spans(change)}</li>" for change in c.changes)
    rows = "".join(
        f'<tr class="{"changed" if f.changed else "same"}" data-figure="'
        f'{escape(f.label, quote=True)}"><td>{escape(f.label)}</td>'
        f"<td class='num'>{escape(f.show(f.before))}</td>"
        f"<td class='num'>{escape(f.show(f.after))}</td>"
        f"<td class='num'>{escape(f.delta())}</td></tr>"
        for f in c.figures)
    table = ('<div class="scroll"><table class="changes"><thead><tr><th>figure</th>'
             "<th class='num'>previous</th><th class='num'>this build</th>"
             f"<th class='num'>change</th></tr></thead><tbody>{rows}</tbody></table></div>")
    return _section("changes", title, f'<ul class="what-changed">{changes}</ul>{table}',
                    "From the previous build's validation.json, kept beside this one as "
                    "<code>*.validation.previous.json</code>; <code>sdgflow compare A B</code> "
                    "prints the same for any two builds. Lengths are words per conversation.")


def _code_spans(text: str) -> str:
    """`name` in a sentence as <code>name</code>, the rest escaped."""
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _quality(data: ReportData) -> str:
    """Diversity and coverage of the valid rows, judge scores, and what looks collapsed."""
    title = "Diversity, coverage and judge scores"
    d = data.diversity
    if not d:
        return _section("quality", title, '<p class="empty">validation.json has no diversity '
                        "figures (written before sdgflow computed them: rerun validate).</p>")
    signs = d.get("collapse") or []
    head = ('<ul class="collapse-signs" role="alert">'
            + "".join(f"<li>{escape(s)}</li>" for s in signs) + "</ul>" if signs else
            '<p class="empty ok">No sign of collapse: no tool, opening or seed value dominates,'
            " and the turns do not repeat themselves.</p>")
    words = d.get("words_per_row") or {}
    openings = d.get("final_openings") or {}
    top_opening = next(iter(openings.get("top") or {}), None)
    stats = [
        ("valid rows measured", fmt.count(d.get("rows", 0))),
        ("words per conversation", " · ".join(f"{k} {words[k]:g}" for k in
                                              ("mean", "p50", "p90", "max") if k in words)
         or "—"),
        *[(f"{label}: distinct-1 · distinct-2",
           f"{t.get('distinct_1', 0):.2f} · {t.get('distinct_2', 0):.2f} "
           f"({fmt.count(t.get('rows', 0))} rows)")
          for label, t in (("first user turns", d.get("first_user_turn") or {}),
                           ("final answers", d.get("final_answer") or {}))],
        ("most common opening of final answers",
         f"“{top_opening} …” {fmt.share(openings.get('top_share', 0))}"
         if top_opening is not None else "—"),
        ("tools called / offered", f"{len(d.get('tools_called') or {})} / "
                                   f"{len(d.get('tools_offered') or {})}"),
    ]
    grid = '<dl class="stats">' + "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>"
                                          for k, v in stats) + "</dl>"
    fields = "".join(
        f'<tr data-field="{escape(name, quote=True)}"><td><code>{escape(name)}</code></td>'
        f"<td class='num'>{fmt.count(f.get('distinct', 0))}</td>"
        f"<td class='num'>{fmt.share(f.get('top_share', 0))}</td>"
        f"<td>{escape(str(next(iter(f.get('top') or {}), ''))[:80])}</td></tr>"
        for name, f in (d.get("fields") or {}).items())
    fields_table = ('<table class="fields"><caption>Seed and sampled fields over the valid rows'
                    "</caption><thead><tr><th>field</th><th class='num'>distinct</th>"
                    "<th class='num'>top share</th><th>most common value</th></tr></thead>"
                    f"<tbody>{fields}</tbody></table>") if fields else ""
    judge = "".join(
        f'<tr data-judge="{escape(name, quote=True)}"><td><code>{escape(name)}</code></td>'
        f"<td class='num'>{fmt.count(j.get('count', 0))}</td>"
        f"<td class='num'>{float(j.get('mean', 0)):.2f}</td><td>"
        + escape(" · ".join(f"{k}: {n}" for k, n in sorted((j.get("histogram") or {}).items())))
        + "</td></tr>"
        for name, j in data.judge_scores.items())
    judge_table = ('<table class="judge"><caption>Judge scores (every judged row)</caption>'
                   "<thead><tr><th>criterion</th><th class='num'>rows</th>"
                   "<th class='num'>mean</th><th>score: rows</th></tr></thead>"
                   f"<tbody>{judge}</tbody></table>") if judge else ""
    return _section("quality", title,
                    f'{head}<div class="quality-grid"><div>{grid}</div>'
                    f"<div>{fields_table}{judge_table}</div></div>",
                    "Over the rows that passed validation (judge scores: every row the judge "
                    "scored). Tools called versus offered are charted under Tools.")


def _lengths(data: ReportData) -> str:
    p = data.packing
    if not p or not p.get("histogram"):
        return _section("lengths", "Token length per record",
                        '<p class="empty">packing.json not available (run the pack stage).</p>')
    h = p["histogram"]
    pc = p.get("length_percentiles") or {}
    markers = [Marker(float(p["pack_size"]), f"pack size {fmt.count(p['pack_size'])}", "bad",
                      dashed=False)]
    markers += [Marker(float(pc[k]), f"{k} {fmt.count(pc[k])}", "muted")
                for k in ("p50", "p90", "p99") if k in pc]
    edges = [float(e) for e in h["bin_edges"]]
    longest = float(pc.get("max", 0))
    # Zoom to the data when every record is far below the pack size; the marker stays, at the
    # edge with an arrow, and the note gives the headroom in numbers.
    zoom = None
    if longest and p["pack_size"] > 2 * longest:
        zoom = next((e for e in edges if e >= longest * 1.15), None)
    chart = histogram("token-lengths", edges, [int(c) for c in h["counts"]], markers=markers,
                      x_max=zoom,
                      x_title=f"tokens per record ({p.get('tokenizer')}, "
                              f"{p.get('chat_template')} template)",
                      aria="token length histogram")
    note = (f"Rendered as the trainer will see them. Longest record {fmt.count(longest)} tokens "
            f"= {fmt.pct(longest, p['pack_size'])} of the pack size; "
            f"{fmt.count(p.get('over_length', 0))} over it.")
    return _section("lengths", "Token length per record", f'<div class="chart-box">{chart}</div>',
                    note)


def _packing(data: ReportData) -> str:
    p = data.packing
    if not p:
        return _section("packing", "Packing efficiency",
                        '<p class="empty">packing.json not available (run the pack stage).</p>')
    eff = float(p.get("efficiency", 0.0))
    bar = meter("packing-efficiency", eff, tone="ok" if eff >= 0.9 else "warn",
                aria="packing efficiency")
    total, loss = int(p.get("total_tokens", 0)), int(p.get("loss_tokens", 0))
    over = int(p.get("over_length", 0))
    stats: list[tuple[str, str]] = [
        ("records", fmt.count(p.get("records"))),
        ("tokens", fmt.count(total)),
        ("trainable (assistant)", f"{fmt.count(loss)} · {fmt.pct(loss, total)}"),
        ("packs", f"{fmt.count(p.get('packs'))} × {fmt.count(p.get('pack_size'))}"),
        ("lower bound", f"{fmt.count(p.get('lower_bound'))} · ratio "
                        f"{float(p.get('ratio_to_lower_bound', 1.0)):.3f}"),
        *([("tight lower bound", f"{fmt.count(p['tight_lower_bound'])} · ratio "
                                 f"{float(p.get('ratio_to_tight_lower_bound', 1.0)):.3f}")]
          if "tight_lower_bound" in p else []),
        ("over length", f"{fmt.count(over)} "
                        + ("truncated" if p.get("truncate") else "dropped")),
        ("algorithm", str(p.get("algorithm", "—"))),
        ("structural problems", fmt.count(p.get("problem_count", 0))),
    ]
    grid = '<dl class="stats">' + "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>"
                                          for k, v in stats) + "</dl>"
    head = (f'<div class="big" data-kpi="efficiency">{fmt.share(eff)}'
            '<span>of packed tokens are real tokens (the rest is padding)</span></div>')
    return _section("packing", "Packing efficiency",
                    f"{head}{bar}{grid}{_loss_by_role(p)}{_template_warnings(p)}")


def _loss_by_role(p: dict) -> str:
    """Trainable share per role: a mask that leaves out tool calls shows as a low
    `assistant_tool_call` share."""
    roles = p.get("loss_by_role") or {}
    if not roles:
        return ""
    rows = "".join(
        f'<tr data-role="{escape(role)}"><td><code>{escape(role)}</code></td>'
        f"<td>{fmt.count(r['tokens'])}</td><td>{fmt.count(r['loss_tokens'])}</td>"
        f"<td>{fmt.share(float(r['loss_share']))}</td></tr>"
        for role, r in roles.items())
    return ('<table class="loss-by-role"><caption>Trainable tokens per role (loss on '
            f"{escape(str(p.get('loss_on', 'all_assistant')))})</caption>"
            "<thead><tr><th>role</th><th>tokens</th><th>trainable</th><th>share</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")


def _template_warnings(p: dict) -> str:
    warnings = p.get("template_warnings") or []
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
    return f'<ul class="template-warnings" role="alert">{items}</ul>'



def _tools(data: ReportData) -> str:
    d = data.dataset
    if not d.tool_calls and not d.tools_offered:
        return _section("tools", "Tool usage", '<p class="empty">No tool calls in the valid '
                        "rows.</p>")
    names = list(dict.fromkeys([*d.tool_calls, *d.tools_offered]))
    chart = grouped_hbar("tool-usage", names, [
        ("called", "primary", [float(d.tool_calls.get(n, 0)) for n in names]),
        ("offered", "muted", [float(d.tools_offered.get(n, 0)) for n in names]),
    ], aria="tool usage")
    calls = sum(d.tool_calls.values())
    per = ", ".join(f"{k} call{'s' if k != 1 else ''}: {fmt.count(n)}"
                    for k, n in d.calls_per_row.items())
    note = (f"{fmt.count(calls)} tool calls over {fmt.count(d.rows)} conversations ({per}). "
            "Offered = conversations whose tools list has the function.")
    legend = _legend([("primary", "calls"), ("muted", "conversations offering it")])
    return _section("tools", "Tool usage", f'<div class="chart-box">{chart}</div>{legend}',
                    note)


def _messages(data: ReportData) -> str:
    d = data.dataset
    if not d.messages_per_row:
        return _section("messages", "Messages per conversation",
                        '<p class="empty">No valid rows.</p>')
    lo, hi = min(d.messages_per_row), max(d.messages_per_row)
    # Every length in range, zeros included: a gap in the distribution is information.
    bars = [Bar(str(k), d.messages_per_row.get(k, 0), fmt.count(d.messages_per_row.get(k, 0)),
                "alt", f"{k} messages: {d.messages_per_row.get(k, 0)} conversations")
            for k in range(lo, hi + 1)]
    chart = vbar_chart("messages-per-conversation", bars, x_title="messages per conversation",
                       aria="messages per conversation")
    total = sum(k * n for k, n in d.messages_per_row.items())
    roles = ", ".join(f"{escape(r)} {fmt.count(n)}" for r, n in d.roles.items())
    note = (f"Mean {total / max(d.rows, 1):.1f} messages per conversation. Roles: {roles}.")
    return _section("messages", "Messages per conversation",
                    f'<div class="chart-box">{chart}</div>', note)


def _categories(data: ReportData) -> str:
    if not data.categories:
        return _section("categories", "Category columns",
                        '<p class="empty">The recipe has no category columns.</p>')
    blocks = []
    for c in data.categories:
        chart = grouped_hbar(f"category-{c.name}", c.values, [
            ("generated", "muted", [float(c.generated.get(v, 0)) for v in c.values]),
            ("valid", "primary", [float(c.valid.get(v, 0)) for v in c.values]),
        ], aria=f"distribution of {c.name}")
        rates = ", ".join(f"{escape(v)} {fmt.pct(c.valid.get(v, 0), c.generated.get(v, 0), 0)}"
                          for v in c.values if c.generated.get(v))
        rate_note = f'<p class="note">valid / generated: {rates}</p>' if rates and c.valid else ""
        if not c.valid:
            rate_note = (f'<p class="note">{escape(c.name)} is not a metadata field of the '
                         "output rows: generated counts only.</p>")
        blocks.append(f'<div class="category" data-category="{escape(c.name, quote=True)}">'
                      f"<h3><code>{escape(c.name)}</code></h3>{chart}{rate_note}</div>")
    legend = _legend([("muted", "generated"), ("primary", "valid")])
    return _section("categories", "Category columns",
                    f'{legend}<div class="grid2 inner">{"".join(blocks)}</div>',
                    "Sampled category columns over every generated record, and over the rows "
                    "that passed validation: a value that fails more often stands out.")


def _samples(data: ReportData) -> str:
    d = data.dataset
    if not d.samples:
        return _section("samples", "Sample conversations",
                        '<p class="empty">No valid rows to sample.</p>')
    convs = "".join(render_conversation(row, i, data.metadata_fields)
                    for i, row in enumerate(d.samples))
    legend = ('<div class="legend roles"><span><i class="sw role-system"></i>system</span>'
              '<span><i class="sw role-user"></i>user</span>'
              '<span><i class="sw role-assistant"></i>assistant</span>'
              '<span><i class="sw role-call"></i>tool call</span>'
              '<span><i class="sw role-result"></i>tool result</span></div>')
    return _section("samples", "Sample conversations",
                    f'{legend}<div class="conversations">{convs}</div>',
                    f"{len(d.samples)} conversations drawn uniformly from the "
                    f"{fmt.count(d.rows)} valid rows (seeded: the same data gives the same "
                    "samples).")


def _rejects(data: ReportData) -> str:
    if not data.rejects:
        return _section("rejects", "Reject reasons",
                        '<p class="empty ok">No record failed a check.</p>')
    total = data.validation.records_in + data.validation.projection_rejects or data.asked
    rows = []
    for r in data.rejects:
        example = ""
        if r.reason or r.snippet:
            rid = ("" if r.record_id is None else
                   f'<span class="rid">record {escape(str(r.record_id))}</span>')
            snippet = (f"<details><summary>source</summary><pre>{escape(r.snippet)}</pre>"
                       "</details>") if r.snippet else ""
            example = f"{rid}{escape(r.reason)}{snippet}"
        rows.append(
            f'<tr data-code="{escape(r.code, quote=True)}"><td><code class="code">'
            f"{escape(r.code)}</code><div class='desc'>{escape(r.description)}</div></td>"
            f"<td>{escape(r.stage)}</td><td><span class='sev {escape(r.severity, quote=True)}'>"
            f"{escape(r.severity)}</span></td><td class='num'>{fmt.count(r.count)}</td>"
            f"<td class='num'>{fmt.pct(r.count, total)}</td><td class='example'>{example}</td>"
            "</tr>")
    table = ('<div class="scroll"><table class="rejects"><thead><tr><th>code</th><th>stage</th>'
             "<th>severity</th><th class='num'>records</th><th class='num'>share</th>"
             f"<th>example</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    return _section("rejects", "Reject reasons", table,
                    "Every failure code with its count and the first example found. A record "
                    "can fail several checks, so counts may add up to more than the rejects. "
                    "<code>sdgflow inspect --rejects</code> shows whole records.")
