"""Jinja chat templates, rendered exactly as transformers renders them.

The environment is transformers' own (`apply_chat_template`): an immutable sandbox with
`trim_blocks`/`lstrip_blocks`, loop controls, the `{% generation %}` extension, its `tojson`
(json.dumps with `ensure_ascii=False` and the indent/separators/sort_keys options),
`raise_exception`, `strftime_now`, `dict` and `namespace`. Messages go in as the row holds
them (a string `arguments` stays a string; objects only when the projection wrote objects),
with transformers' two edits: keys whose value is null are dropped, and a reasoning field is
copied to `reasoning_content` and `thinking`. The tokenizer's special tokens (`bos_token`,
`eos_token`, ...) and `packing.template_kwargs` are template variables.

Trainable tokens, for any template:
- with `{% generation %}` markers, the characters inside them (as `return_assistant_tokens_mask`);
- otherwise, assistant message k runs from the end of the render of messages[:k] with the
  generation prompt to the end of the render of messages[:k+1]. Templates that write the last
  message differently from an earlier one (Qwen3 adds an empty think block to a trailing
  assistant turn) are aligned by the longest tail of that render found in the full render.
A token is trainable when it overlaps a trainable character range (transformers' rule). An
assistant turn with no trainable token is a reported problem, never a silently smaller mask.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import numpy as np
from jinja2.sandbox import ImmutableSandboxedEnvironment

from sdgflow.pack.render.base import Builder, Renderer, normalize
from sdgflow.pack.tokenizer import Tokenizer
from sdgflow.project.layout import decoded

_GENERATION_TAG = re.compile(r"\{\%-?\s*generation\s*-?\%\}")
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


class GenerationTracker(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}`: records the character range of each block's
    output, as transformers' AssistantTracker does."""

    tags = {"generation"}  # noqa: RUF012 - jinja's Extension API

    def __init__(self, environment: jinja2.Environment):
        super().__init__(environment)
        environment.extend(activate_tracker=self.activate_tracker)
        self._tracking: ContextVar = ContextVar("generation_tracker", default=None)

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation"), [], [], body) \
            .set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation(self, context, caller):
        rv = caller()
        tracking = self._tracking.get()
        if tracking is not None:
            blocks, spans = tracking
            start = sum(map(len, blocks))
            spans.append((start, start + len(rv)))
        return rv

    @contextmanager
    def activate_tracker(self, blocks: list[str], spans: list[tuple[int, int]]):
        token = self._tracking.set((blocks, spans))
        try:
            yield
        finally:
            self._tracking.reset(token)


class _Dict:
    """transformers' `dict` global: calls and fromkeys only, no attribute escapes."""

    def __call__(self, *args, **kwargs):
        return dict(*args, **kwargs)

    def fromkeys(self, *args, **kwargs):
        return dict.fromkeys(*args, **kwargs)


class _Namespace(jinja2.utils.Namespace):
    """transformers' `namespace`: no underscore-prefixed attributes."""

    def __init__(*args, **kwargs):
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name, value):
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name):
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"chat templates cannot store underscore-prefixed attributes ({name!r})")


def compile_chat_template(source: str, today: date) -> jinja2.Template:
    """The template compiled in transformers' environment; `strftime_now` formats `today`
    (transformers uses the wall clock: a fixed day keeps the build reproducible)."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    moment = datetime(today.year, today.month, today.day)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[GenerationTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = moment.strftime
    env.globals["dict"] = _Dict()
    env.globals["namespace"] = _Namespace
    return env.from_string(source)


def template_messages(messages: list[Any]) -> list[dict]:
    """The messages as transformers hands them to a template (see the module docstring)."""
    out = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        m = {k: v for k, v in m.items() if v is not None}
        reasoning = next((m[k] for k in _REASONING_FIELDS if m.get(k) is not None), None)
        if reasoning is not None:
            m = {"thinking": reasoning, **m, "reasoning_content": reasoning}
        out.append(m)
    return out


def _common_prefix_len(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _end_in_full(full: str, last: str) -> int | None:
    """Where the render `last` (the conversation up to and including one message) ends in
    `full`: its length when it is a prefix, otherwise the end of the longest tail of it that
    `full` continues with after the two diverge (a block the template only writes for a
    trailing message). None when that tail is not most of the diverging part."""
    if full.startswith(last):
        return len(last)
    d = _common_prefix_len(full, last)
    rest = last[d:]
    # only an insertion is aligned: text `full` lacks, then the rest as in `full`; anything
    # else (a substituted end-of-turn token, a dropped block) is not guessed at
    for j in range(1, (len(rest) + 1) // 2):
        if full.startswith(rest[j:], d):
            return d + len(rest) - j
    return None


class JinjaRenderer(Renderer):
    """A Jinja chat template, shipped or the user's (see the module docstring)."""

    name = "jinja"

    def __init__(self, tok: Tokenizer, source: str, label: str, *,
                 loss_on: str = "all_assistant", template_kwargs: dict | None = None,
                 today: date = date(2025, 6, 28), special_tokens: dict | None = None):
        super().__init__(tok)
        self.label = label
        self.source = source
        self.template = compile_chat_template(source, today)
        self.has_generation = bool(_GENERATION_TAG.search(source))
        self.loss_on = loss_on
        self.variables = {**(special_tokens or {}), **(template_kwargs or {})}
        self._prefixes: dict[tuple[int, bool], str | None] = {}

    # ------------------------------------------------------------------ rendering

    def render_text(self, messages: list[dict], tools: Any, add_generation_prompt: bool,
                    spans: list[tuple[int, int]] | None = None) -> str:
        """One render, as `apply_chat_template(tokenize=False)`; `spans` collects the
        `{% generation %}` ranges when given."""
        kw = dict(self.variables, messages=messages, tools=tools, documents=None,
                  add_generation_prompt=add_generation_prompt)
        if spans is None:
            return self.template.render(**kw)
        blocks: list[str] = []
        with self.template.environment.activate_tracker(blocks, spans):
            for block in self.template.generate(**kw):
                blocks.append(block)
        return "".join(blocks)

    def _prefix(self, messages, tools, k: int, agp: bool) -> str | None:
        """The render of messages[:k] (None when the template refuses it), each asked once
        per row: the end of assistant turn k is where message k+1 starts."""
        key = (k, agp)
        if key not in self._prefixes:
            if k == 0 and not agp:
                self._prefixes[key] = ""
            else:
                try:
                    self._prefixes[key] = self.render_text(messages[:k], tools, agp)
                except Exception:  # a template may refuse a partial conversation
                    self._prefixes[key] = None
        return self._prefixes[key]

    def render(self, rec: Any, debug: bool = False) -> Builder:
        b = self.builder(debug)
        b.role = None  # roles are counted from the message boundaries below
        rec = decoded(rec)  # a `json_string` layout's messages and tools, parsed back
        norm, _ = normalize(rec, b)
        if not norm:
            b.finish()
            return b
        messages = template_messages(rec.get("messages") or [])
        tools = rec.get("tools")
        gen_spans: list[tuple[int, int]] = []
        try:
            full = self.render_text(messages, tools, False,
                                    gen_spans if self.has_generation else None)
        except Exception as e:
            b.problem("template_error", f"{type(e).__name__}: {e}")
            b.finish()
            return b
        self._prefixes = {(len(messages), False): full}
        bounds = self._bounds(messages, tools, full)
        spans = self._trainable(messages, tools, full, bounds, gen_spans, b)
        self._prefixes = {}
        self._emit(b, full, spans, bounds, messages)
        b.finish()
        return b

    def _bounds(self, messages, tools, full: str) -> list[int]:
        """Where each message starts in `full` (and len(full) last): the length of the render
        of the messages before it, or how far that render agrees with `full`."""
        bounds = [0]
        for k in range(1, len(messages)):
            r = self._prefix(messages, tools, k, False)
            at = None if r is None else _end_in_full(full, r)
            if at is None and r is not None:
                at = _common_prefix_len(full, r)
            bounds.append(bounds[-1] if at is None else max(bounds[-1], at))
        bounds.append(len(full))
        return bounds

    def _trainable(self, messages, tools, full, bounds, gen_spans, b: Builder):
        """Character ranges to train on, after `loss_on`, with a problem for every assistant
        turn in scope that gets none."""
        assistant = [k for k, m in enumerate(messages) if m.get("role") == "assistant"]
        scope = assistant[-1:] if self.loss_on == "final_answer" else assistant
        per_msg: dict[int, list[tuple[int, int]]] = {k: [] for k in scope}
        if self.has_generation:
            for s, e in gen_spans:
                if e <= s:
                    continue
                k = max(i for i in range(len(messages)) if bounds[i] <= s)
                if k in per_msg:
                    per_msg[k].append((s, e))
        else:
            for k in scope:
                start = self._prefix(messages, tools, k, True)
                upto = self._prefix(messages, tools, k + 1, False)
                if start is None or upto is None:
                    continue
                s = _common_prefix_len(full, start)
                e = _end_in_full(full, upto)
                # a span reaching outside the message's own stretch of the render means the
                # template writes earlier turns differently once this one is last: not located
                if e is not None and bounds[k] <= s < e <= bounds[k + 1]:
                    per_msg[k].append((s, e))
        for k, spans in per_msg.items():
            if not spans:
                kind = "tool-call" if messages[k].get("tool_calls") else "assistant"
                how = ("the template's {% generation %} blocks do not cover it"
                       if self.has_generation else "its span could not be located in the render")
                b.problem("template_span",
                          f"{kind} message {k} has no trainable tokens: {how}")
        return sorted(s for spans in per_msg.values() for s in spans)

    # ------------------------------------------------------------------ tokens

    def _emit(self, b: Builder, full: str, spans, bounds, messages) -> None:
        ids, offs = self.tok.encode_with_offsets(full)
        if not ids:
            return
        starts, ends = offs[:-1], offs[1:]

        def byte_at(c: int) -> int:
            return len(full[:c].encode("utf-8"))

        mask = np.zeros(len(ids), bool)
        for s, e in spans:  # transformers: a token overlapping a trainable range trains
            mask |= (ends > byte_at(s)) & (starts < byte_at(e))
        role_of = np.searchsorted(np.asarray([byte_at(c) for c in bounds[:-1]]), starts,
                                  side="right") - 1
        for k, m in enumerate(messages):
            sel = role_of == k
            n = int(sel.sum())
            if n:
                b.count_role(_role_key(m), n, int(mask[sel].sum()))
        cuts = np.flatnonzero(np.diff(mask.view(np.int8))) + 1
        for a, z in zip(np.r_[0, cuts], np.r_[cuts, len(ids)], strict=True):
            run = tuple(ids[a:z])
            b.ids((run, ""), bool(mask[a]))


def _role_key(m: dict) -> str:
    role = m.get("role")
    if role == "assistant" and m.get("tool_calls"):
        return "assistant_tool_call"
    return role if isinstance(role, str) else "unknown"
