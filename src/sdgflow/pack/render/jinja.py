"""Jinja chat templates."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import orjson

from sdgflow.pack.render.base import Builder, Renderer, _dumps, normalize
from sdgflow.pack.tokenizer import Tokenizer

# ----------------------------------------------------------------------------- jinja


class JinjaRenderer(Renderer):
    """A user-supplied Jinja chat template (HF conventions: messages, tools,
    add_generation_prompt; tool-call arguments parsed to dicts). Assistant spans are found by
    rendering prefixes; templates that are not prefix-stable fall back to locating the content."""

    name = "jinja"

    def __init__(self, tok: Tokenizer, path: str):
        super().__init__(tok)
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        self.path = path
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=["jinja2.ext.loopcontrols"])

        def raise_exception(msg):
            raise ValueError(msg)

        def strftime_now(fmt):
            return "26 Jul 2024" if "%b" in fmt else "2024-07-26"

        env.filters["tojson"] = lambda x, indent=None, **kw: _dumps(x, indent=indent)
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = strftime_now
        self.template = env.from_string(Path(path).read_text())
        specials = sorted(tok.specials, key=len, reverse=True)
        specials = [s for s in specials if "reserved" not in s]
        self._special_re = re.compile("(" + "|".join(map(re.escape, specials)) + ")") \
            if specials else None

    def _messages(self, rec: dict) -> list[dict]:
        out = []
        for m in rec.get("messages") or []:
            if not isinstance(m, dict):
                continue
            m = dict(m)
            if m.get("tool_calls"):
                calls = []
                for tc in m["tool_calls"]:
                    tc = dict(tc) if isinstance(tc, dict) else {}
                    f = dict(tc.get("function") or {})
                    a = f.get("arguments")
                    if isinstance(a, str):
                        with contextlib.suppress(orjson.JSONDecodeError):
                            f["arguments"] = orjson.loads(a)
                    tc["function"] = f
                    calls.append(tc)
                m["tool_calls"] = calls
            out.append(m)
        return out

    def _render(self, msgs, tools, agp: bool) -> str:
        return self.template.render(messages=msgs, tools=tools or None,
                                    add_generation_prompt=agp, bos_token="", eos_token="")

    def render(self, rec: Any, debug: bool = False) -> Builder:
        b = self.builder(debug)
        norm, tools = normalize(rec, b)
        if not norm:
            b.finish()
            return b
        msgs = self._messages(rec)
        try:
            full = self._render(msgs, tools, False)
        except Exception as e:
            b.problem("template_error", f"{type(e).__name__}: {e}")
            b.finish()
            return b
        spans: list[tuple[int, int]] = []
        pos = 0
        for i, m in enumerate(msgs):
            if m.get("role") != "assistant":
                continue
            try:
                p = self._render(msgs[:i], tools, True)
                f = self._render(msgs[: i + 1], tools, False)
            except Exception:
                p = f = ""
            if p and full.startswith(f) and f.startswith(p) and len(f) > len(p) >= pos:
                spans.append((len(p), len(f)))
                pos = len(f)
                continue
            content = m.get("content") if isinstance(m.get("content"), str) else ""
            j = full.find(content, pos) if content else -1
            if j >= 0:
                spans.append((j, j + len(content)))
                pos = j + len(content)
            else:
                b.problem("template_span", f"could not locate assistant message {i} in render")
        cur = 0
        for s, e in spans:
            self._emit(b, full[cur:s], False)
            self._emit(b, full[s:e], True)
            cur = e
        self._emit(b, full[cur:], False)
        b.finish()
        return b

    def _emit(self, b: Builder, text: str, tr: bool) -> None:
        if not text:
            return
        if self._special_re is None:
            b.txt(text, tr)
            return
        for i, part in enumerate(self._special_re.split(text)):
            if i % 2:
                b.sp(part, tr)
            elif part:
                b.txt(part, tr)


