"""Chat rendering into token pieces with a trainable (assistant) flag per piece.

A renderer writes a conversation into a `Builder` as a sequence of special tokens (emitted as
ids, never parsed out of text) and ordinary text. Ordinary text between two special tokens is
tokenized as one string unless it is split at a position that is a pre-tokenizer boundary for
every bundled BPE grammar (a newline followed by a non-space, non-'/' character), so the pieces'
token counts add up exactly to the tokenizer's encode of the whole rendered text. Repeated
template text (tool namespaces, role names, system boilerplate) is cached as token tuples.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from sdgflow.pack.tokenizer import Tokenizer

_SPECIALISH = re.compile(r"<\||</?tool_|</?think>")
KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_CACHE_LIMIT = 200_000


def _dumps(obj: Any, indent: int | None = None) -> str:
    """Hugging Face's `tojson` filter: json.dumps, ensure_ascii=False."""
    return json.dumps(obj, ensure_ascii=False, indent=indent)


class Builder:
    """Accumulates one record's pieces; see the module docstring for the exactness argument."""

    __slots__ = (
        "_bconst",
        "_bflag",
        "_buf",
        "cache",
        "closs",
        "ctotal",
        "flags",
        "items",
        "problems",
        "safe_split",
        "specials",
        "text_flags",
        "text_parts",
        "texts",
        "tok",
    )

    def __init__(self, tok: Tokenizer, cache: dict, debug: bool = False, safe_split: bool = True):
        self.tok = tok
        self.specials = tok.specials
        self.cache = cache
        self.safe_split = safe_split
        self.items: list = []  # int special id | tuple const token ids | str text
        self.flags: list[bool] = []
        self.texts: list[str] = []
        self.text_flags: list[bool] = []
        self.ctotal = 0
        self.closs = 0
        self.problems: list[tuple[str, str]] = []
        self.text_parts: list[str] | None = [] if debug else None
        self._buf: list[str] = []
        self._bflag = False
        self._bconst = False

    def problem(self, code: str, message: str) -> None:
        self.problems.append((code, message))

    def sp(self, s: str, tr: bool) -> None:
        i = self.specials.get(s)
        if i is None:  # not a special token in this vocabulary: plain template text
            self.txt(s, tr, True)
            return
        if self._buf:
            self._flush()
        self.items.append(i)
        self.flags.append(tr)
        self.ctotal += 1
        if tr:
            self.closs += 1
        if self.text_parts is not None:
            self.text_parts.append(s)

    def ids(self, seq: tuple[tuple[int, ...], str], tr: bool) -> None:
        """A precomposed, pre-tokenized sequence that starts with a special token and is
        followed by a special token or ends with one (see `Renderer.seq`)."""
        if self._buf:
            self._flush()
        t = seq[0]
        self.items.append(t)
        self.flags.append(tr)
        self.ctotal += len(t)
        if tr:
            self.closs += len(t)
        if self.text_parts is not None:
            self.text_parts.append(seq[1])

    def const(self, s: str, tr: bool) -> None:
        self.txt(s, tr, True)

    def txt(self, s: str, tr: bool, const: bool = False) -> None:
        if not s:
            return
        if self.text_parts is not None:
            self.text_parts.append(s)
        buf = self._buf
        if buf:
            if (
                (const or self._bconst or tr != self._bflag)
                and self.safe_split
                and buf[-1][-1] == "\n"
                and not s[0].isspace()
                and s[0] != "/"
            ):
                self._flush()
            else:
                buf.append(s)
                self._bconst = False
                self._bflag = self._bflag or tr
                return
        self._buf = [s]
        self._bflag = tr
        self._bconst = const

    def _flush(self) -> None:
        buf = self._buf
        flag = self._bflag
        if self._bconst:
            s = buf[0]
            ids = self.cache.get(s)
            if ids is None:
                if len(self.cache) > _CACHE_LIMIT:
                    self.cache.clear()
                ids = tuple(self.tok.encode_ordinary(s))
                self.cache[s] = ids
            self.items.append(ids)
            self.flags.append(flag)
            self.ctotal += len(ids)
            if flag:
                self.closs += len(ids)
        else:
            s = buf[0] if len(buf) == 1 else "".join(buf)
            self.items.append(s)
            self.flags.append(flag)
            self.texts.append(s)
            self.text_flags.append(flag)
        self._buf = []

    def finish(self) -> None:
        if self._buf:
            self._flush()

    @property
    def text(self) -> str:
        """The full rendered text (decoded from the pieces; for tests and debugging)."""
        self.finish()
        dec = self.tok.decode
        return "".join(
            it if isinstance(it, str) else dec([it]) if isinstance(it, int) else dec(list(it))
            for it in self.items
        )


# ----------------------------------------------------------------------------- normalisation


class Msg:
    __slots__ = ("calls", "content", "reasoning", "role", "tool_name")

    def __init__(self, role, content, calls, tool_name, reasoning):
        self.role = role
        self.content = content
        self.calls = calls  # list of (name, args_str, args_obj)
        self.tool_name = tool_name
        self.reasoning = reasoning


def _text_content(c: Any) -> str | None:
    if c is None:
        return ""
    if isinstance(c, str):
        return c
    if isinstance(c, list) and all(isinstance(p, dict) for p in c):
        return "".join(str(p.get("text", "")) for p in c if p.get("type", "text") == "text")
    return None


def normalize(rec: Any, b: Builder) -> tuple[list[Msg], list[dict]]:
    """Structural checks a trainer would choke on, and messages in a uniform shape."""
    if type(rec) is not dict:
        b.problem("not_an_object", "record is not a JSON object")
        return [], []
    messages = rec.get("messages")
    tools = rec.get("tools") or []
    if type(tools) is not list:
        b.problem("invalid_tools", "`tools` is not a list")
        tools = []
    if type(messages) is not list or not messages:
        b.problem("missing_messages", "`messages` is missing, empty or not a list")
        return [], tools
    tool_names = set()
    for t in tools:
        f = t.get("function") if type(t) is dict else None
        if type(f) is dict and type(f.get("name")) is str:
            tool_names.add(f["name"])
        else:
            b.problem("invalid_tools", "tool definition without function.name")
    call_names: dict[str, str] = {}
    ncalls = 0
    out: list[Msg] = []
    has_assistant = False
    for j, m in enumerate(messages):
        if type(m) is not dict:
            b.problem("invalid_message", f"message {j} is not an object")
            continue
        role = m.get("role")
        if role not in KNOWN_ROLES:
            b.problem("unknown_role", f"message {j} has unknown role {role!r}")
            role = str(role)
        raw = m.get("content")
        content = raw if type(raw) is str else _text_content(raw)
        if content is None:
            if role == "tool":
                b.problem("non_string_tool_content", f"message {j}: tool content is not a string")
            else:
                b.problem("non_string_content", f"message {j}: content is not a string")
            content = _dumps(raw)
        elif "<" in content and _SPECIALISH.search(content):
            b.problem(
                "special_token_in_content",
                f"message {j}: content contains a special-token string (tokenized as text here; "
                "a naive tokenizer call would turn it into a control token)",
            )
        calls = ()
        tool_name = None
        reasoning = None
        if role == "assistant":
            has_assistant = True
            tcs = m.get("tool_calls")
            if tcs:
                calls = []
                for tc in tcs:
                    f = tc.get("function") if type(tc) is dict else None
                    if type(f) is not dict or type(f.get("name")) is not str:
                        b.problem("invalid_tool_call",
                                  f"message {j}: tool call without function.name")
                        continue
                    name = f["name"]
                    if tool_names and name not in tool_names:
                        b.problem("unknown_tool", f"message {j}: call to undeclared tool {name!r}")
                    args = f.get("arguments")
                    if type(args) is str:
                        try:
                            obj = orjson.loads(args) if args.strip() else {}
                        except orjson.JSONDecodeError:
                            b.problem("invalid_arguments_json",
                                      f"message {j}: arguments are not JSON")
                            obj = None
                    else:
                        b.problem(
                            "non_string_arguments",
                            f"message {j}: function.arguments is a {type(args).__name__}, "
                            "the format says JSON string",
                        )
                        obj = args
                        args = _dumps(args)
                    calls.append((name, args, obj))
                    ncalls += 1
                    cid = tc.get("id")
                    if type(cid) is str:
                        call_names[cid] = name
            r = m.get("reasoning_content") or m.get("reasoning") or m.get("thinking")
            if type(r) is str:
                reasoning = r
        elif role == "tool":
            cid = m.get("tool_call_id")
            if ncalls == 0 or (type(cid) is str and cid not in call_names):
                b.problem("tool_without_call",
                          f"message {j}: tool message without a preceding call")
            tool_name = (
                m.get("name") or (call_names.get(cid) if type(cid) is str else None) or "tool"
            )
        out.append(Msg(role, content, calls, tool_name, reasoning))
    if not has_assistant:
        b.problem("no_assistant_turn", "no assistant message: nothing to train on")
    return out, tools


def _props(fn: dict) -> tuple[dict, set]:
    params = fn.get("parameters") or {}
    props = params.get("properties") or {} if isinstance(params, dict) else {}
    req = set(params.get("required") or ()) if isinstance(params, dict) else set()
    return (props if isinstance(props, dict) else {}), req


# ----------------------------------------------------------------------------- harmony


def _ts_type(spec: Any) -> str:
    if not isinstance(spec, dict):
        return "any"
    if "enum" in spec and isinstance(spec["enum"], list):
        return " | ".join(_dumps(v) for v in spec["enum"])
    t = spec.get("type")
    if isinstance(t, list):
        return " | ".join(_ts_type({**spec, "type": x}) for x in t)
    if t == "string":
        return "string"
    if t in ("number", "integer"):
        return "number"
    if t == "boolean":
        return "boolean"
    if t == "null":
        return "null"
    if t == "array":
        return _ts_type(spec.get("items")) + "[]"
    if t == "object":
        props = spec.get("properties")
        if isinstance(props, dict) and props:
            req = set(spec.get("required") or ())
            inner = ", ".join(
                f"{k}{'' if k in req else '?'}: {_ts_type(v)}" for k, v in props.items()
            )
            return "{\n" + inner + "\n}"
        return "object"
    return "any"


def harmony_tool_namespace(tools: list[dict]) -> str:
    """`## functions\\n\\nnamespace functions { ... } // namespace functions` (gpt-oss style)."""
    out = ["## functions\n\nnamespace functions {\n\n"]
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(fn, dict):
            continue
        if fn.get("description"):
            out.append(f"// {fn['description']}\n")
        props, req = _props(fn)
        if props:
            out.append(f"type {fn.get('name')} = (_: {{\n")
            for k, spec in props.items():
                if isinstance(spec, dict) and spec.get("description"):
                    out.append(f"// {spec['description']}\n")
                line = f"{k}{'' if k in req else '?'}: {_ts_type(spec)},"
                if isinstance(spec, dict) and "default" in spec:
                    line += f" // default: {_dumps(spec['default'])}"
                out.append(line + "\n")
            out.append("}) => any;\n\n")
        else:
            out.append(f"type {fn.get('name')} = () => any;\n\n")
    out.append("} // namespace functions")
    return "".join(out)


HARMONY_SYSTEM = (
    "You are ChatGPT, a large language model trained by OpenAI.\n"
    "Knowledge cutoff: 2024-06\nCurrent date: 2025-06-28\n\nReasoning: medium\n\n"
    "# Valid channels: analysis, commentary, final. Channel must be included for every message."
)
HARMONY_TOOLS_NOTE = "\nCalls to these tools must go to the commentary channel: 'functions'."


class Renderer:
    name = "base"

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self.cache: dict = {}
        self._tools_cache: dict[bytes, str] = {}
        self._seq_cache: dict[tuple[str, ...], tuple[tuple[int, ...], str]] = {}

    def tools_text(self, tools: list[dict], fn: Callable[[list[dict]], str]) -> str:
        key = orjson.dumps(tools)
        s = self._tools_cache.get(key)
        if s is None:
            if len(self._tools_cache) > 10_000:
                self._tools_cache.clear()
            s = self._tools_cache[key] = fn(tools)
        return s

    def seq(self, *parts: str) -> tuple[tuple[int, ...], str]:
        """Tokenize a fixed sequence of alternating special tokens / template text once.
        Parts found in the vocabulary's specials become their ids; the rest is ordinary text
        (each text part must sit between special tokens in every use)."""
        key = parts
        hit = self._seq_cache.get(key)
        if hit is None:
            ids: list[int] = []
            for p in parts:
                i = self.tok.specials.get(p)
                if i is None:
                    ids += self.tok.encode_ordinary(p)
                else:
                    ids.append(i)
            hit = self._seq_cache[key] = (tuple(ids), "".join(parts))
        return hit

    def builder(self, debug: bool = False) -> Builder:
        return Builder(self.tok, self.cache, debug, safe_split=not self._hf())

    def _hf(self) -> bool:
        from sdgflow.pack.tokenizer import HFTokenizer

        return isinstance(self.tok, HFTokenizer)

    def render(self, rec: Any, debug: bool = False) -> Builder:
        b = self.builder(debug)
        msgs, tools = normalize(rec, b)
        if msgs:
            self.render_msgs(msgs, tools, b)
        b.finish()
        return b

    def render_msgs(self, msgs: list[Msg], tools: list[dict], b: Builder) -> None:
        raise NotImplementedError


class HarmonyRenderer(Renderer):
    """gpt-oss harmony format (openai-harmony / the gpt-oss chat template). Assistant
    `reasoning_content` is rendered on the analysis channel when present.

    Every text piece here sits between two special tokens, so pieces are appended directly
    (no boundary bookkeeping): this is the hot path of the benchmark."""

    name = "harmony"

    def render_msgs(self, msgs, tools, b):
        seq = self.seq
        b.ids(seq("<|start|>", "system", "<|message|>",
                  HARMONY_SYSTEM + (HARMONY_TOOLS_NOTE if tools else ""), "<|end|>"), False)
        start = 0
        instr = []
        while start < len(msgs) and msgs[start].role in ("system", "developer"):
            instr.append(msgs[start].content)
            start += 1
        end = seq("<|end|>")[0]
        if instr or tools:
            b.ids(seq("<|start|>", "developer", "<|message|>"), False)
            if instr:
                b.txt("# Instructions\n\n" + "\n\n".join(instr), False)
            if tools:
                b.txt("\n\n# Tools\n\n", False)
                b.const(self.tools_text(tools, harmony_tool_namespace), False)
            b.ids(seq("<|end|>"), False)
        b.finish()
        items, flags, texts, tflags = b.items, b.flags, b.texts, b.text_flags
        ct = cl = 0
        last = len(msgs) - 1
        a_head = seq("<|start|>", "assistant")[0]
        na = len(a_head)
        for k in range(start, len(msgs)):
            m = msgs[k]
            role = m.role
            if role == "assistant":
                if m.reasoning:
                    h = seq("<|channel|>", "analysis", "<|message|>")[0]
                    items += (a_head, h, m.reasoning, end)
                    flags += (False, True, True, True)
                    texts.append(m.reasoning)
                    tflags.append(True)
                    ct += na + len(h) + 1
                    cl += len(h) + 1
                if m.calls:
                    if m.content:
                        h = seq("<|channel|>", "commentary", "<|message|>")[0]
                        items += (a_head, h, m.content, end)
                        flags += (False, True, True, True)
                        texts.append(m.content)
                        tflags.append(True)
                        ct += na + len(h) + 1
                        cl += len(h) + 1
                    for name, args, _ in m.calls:
                        h = seq("<|channel|>", f"commentary to=functions.{name} ",
                                "<|constrain|>", "json", "<|message|>")[0]
                        t = seq("<|call|>")[0]
                        items += (a_head, h, args, t)
                        flags += (False, True, True, True)
                        texts.append(args)
                        tflags.append(True)
                        ct += na + len(h) + 1
                        cl += len(h) + 1
                else:
                    h = seq("<|channel|>", "final", "<|message|>")[0]
                    t = seq("<|return|>")[0] if k == last else end
                    items += (a_head, h, m.content, t)
                    flags += (False, True, True, True)
                    texts.append(m.content)
                    tflags.append(True)
                    ct += na + len(h) + 1
                    cl += len(h) + 1
            else:
                if role == "tool":
                    h = seq("<|start|>", f"functions.{m.tool_name} to=assistant", "<|channel|>",
                            "commentary", "<|message|>")[0]
                else:
                    h = seq("<|start|>", "developer" if role == "system" else role,
                            "<|message|>")[0]
                items += (h, m.content, end)
                flags += (False, False, False)
                texts.append(m.content)
                tflags.append(False)
                ct += len(h) + 1
        b.ctotal += ct
        b.closs += cl


QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def _qwen_tools(tools: list[dict]) -> str:
    return "".join("\n" + _dumps(t) for t in tools) + "\n</tools>\n\n"


class ChatMLRenderer(Renderer):
    """Qwen2.5 / Hermes ChatML with `<tools>` in the system turn and `<tool_call>` blocks."""

    name = "chatml"

    def render_msgs(self, msgs, tools, b):
        sp, const, txt = b.sp, b.const, b.txt
        start = 0
        if msgs[0].role == "system":
            system = msgs[0].content
            start = 1
        else:
            system = QWEN_DEFAULT_SYSTEM
        if system is not None:
            sp("<|im_start|>", False)
            if tools:
                txt("system\n" + system + "\n\n", False)
                const(
                    "# Tools\n\nYou may call one or more functions to assist with the user query."
                    "\n\nYou are provided with function signatures within <tools></tools> XML "
                    "tags:\n<tools>" + self.tools_text(tools, _qwen_tools) + "For each function "
                    "call, return a json object with function name and arguments within ",
                    False,
                )
                sp("<tool_call>", False)
                sp("</tool_call>", False)
                const(" XML tags:\n", False)
                sp("<tool_call>", False)
                const('\n{"name": <function-name>, "arguments": <args-json-object>}\n', False)
                sp("</tool_call>", False)
            else:
                txt("system\n" + system, False)
            sp("<|im_end|>", False)
            const("\n", False)
        n = len(msgs)
        for k in range(start, n):
            m = msgs[k]
            role = m.role
            if role == "assistant":
                sp("<|im_start|>", False)
                const("assistant\n", False)
                if m.calls:
                    if m.content:
                        txt(m.content + "\n", True)
                    for i, (name, args, obj) in enumerate(m.calls):
                        if i:
                            const("\n", True)
                        sp("<tool_call>", True)
                        a = args if obj is None else _dumps(obj)
                        txt('\n{"name": "' + name + '", "arguments": ' + a + "}\n", True)
                        sp("</tool_call>", True)
                else:
                    txt(m.content, True)
                sp("<|im_end|>", True)
                const("\n", False)
            elif role == "tool":
                if k == 0 or msgs[k - 1].role != "tool":
                    sp("<|im_start|>", False)
                    const("user", False)
                txt("\n", False)
                sp("<tool_response>", False)
                txt("\n" + m.content + "\n", False)
                sp("</tool_response>", False)
                if k == n - 1 or msgs[k + 1].role != "tool":
                    sp("<|im_end|>", False)
                    const("\n", False)
            else:
                sp("<|im_start|>", False)
                txt(role + "\n" + m.content, False)
                sp("<|im_end|>", False)
                const("\n", False)


LLAMA_TOOLS_PREAMBLE = (
    "Given the following functions, please respond with a JSON for a function call with its "
    "proper arguments that best answers the given prompt.\n\n"
    'Respond in the format {"name": function name, "parameters": dictionary of argument name '
    'and its value}.Do not use variables.\n\n'
)


def _llama_tools(tools: list[dict]) -> str:
    return LLAMA_TOOLS_PREAMBLE + "".join(_dumps(t, indent=4) + "\n\n" for t in tools)


class Llama3Renderer(Renderer):
    """Llama 3.1 template: tools in the first user turn, JSON calls, `ipython` tool results."""

    name = "llama3"

    def _header(self, b: Builder, role: str) -> None:
        b.sp("<|start_header_id|>", False)
        b.const(role, False)
        b.sp("<|end_header_id|>", False)
        b.const("\n\n", False)

    def render_msgs(self, msgs, tools, b):
        sp, const, txt = b.sp, b.const, b.txt
        sp("<|begin_of_text|>", False)
        start = 0
        system = ""
        if msgs[0].role == "system":
            system = msgs[0].content.strip()
            start = 1
        self._header(b, "system")
        const(
            ("Environment: ipython\n" if tools else "")
            + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n",
            False,
        )
        txt(system, False)
        sp("<|eot_id|>", False)
        first_user = tools is not None and len(tools) > 0
        for k in range(start, len(msgs)):
            m = msgs[k]
            role = m.role
            if role == "assistant":
                self._header(b, "assistant")
                if m.calls:
                    if len(m.calls) > 1:
                        b.problem(
                            "multiple_tool_calls",
                            "Llama 3.1 template supports one tool call per message",
                        )
                    name, args, obj = m.calls[0]
                    a = args if obj is None else _dumps(obj)
                    txt('{"name": "' + name + '", "parameters": ' + a + "}", True)
                else:
                    txt(m.content.strip(), True)
                sp("<|eot_id|>", True)
            elif role == "tool":
                self._header(b, "ipython")
                txt(m.content, False)
                sp("<|eot_id|>", False)
            else:
                self._header(b, role)
                if first_user and role == "user":
                    first_user = False
                    const(self.tools_text(tools, _llama_tools), False)
                txt(m.content.strip(), False)
                sp("<|eot_id|>", False)


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


_RENDERERS = {"harmony": HarmonyRenderer, "chatml": ChatMLRenderer, "llama3": Llama3Renderer}


def make_renderer(tok: Tokenizer, chat_template: str | None) -> Renderer:
    """`harmony|chatml|llama3`, a Jinja template file path, or None (the tokenizer's family)."""
    name = chat_template or tok.family
    if name in _RENDERERS:
        return _RENDERERS[name](tok)
    if name in ("hermes", "qwen"):
        return ChatMLRenderer(tok)
    p = Path(name).expanduser()
    if p.is_file():
        return JinjaRenderer(tok, str(p))
    raise ValueError(
        f"unknown chat template {chat_template!r}: use harmony, chatml, llama3 or a path to a "
        "Jinja template file"
    )
