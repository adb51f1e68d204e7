"""Chat rendering into token pieces with a trainable (assistant) flag per piece.

A renderer writes a conversation into a `Builder` as a sequence of special tokens (emitted as
ids, never parsed out of text) and ordinary text. Ordinary text between two special tokens is
tokenized as one string unless it is split at a position that is a pre-tokenizer boundary for
every bundled BPE grammar (a newline followed by a non-space, non-'/' character), so the pieces'
token counts add up exactly to the tokenizer's encode of the whole rendered text. Repeated
template text (tool namespaces, role names, system boilerplate) is cached as token tuples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

from sdgflow.pack.tokenizer import Tokenizer
from sdgflow.project.layout import decoded

_SPECIALISH = re.compile(r"<\||</?tool_|</?think>")
KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_CACHE_LIMIT = 200_000


def _dumps(obj: Any, indent: int | None = None) -> str:
    """Hugging Face's `tojson` filter: json.dumps, ensure_ascii=False."""
    return json.dumps(obj, ensure_ascii=False, indent=indent)


def add_role_tokens(roles: dict[str, list[int]], role: str, tokens: int, loss: int) -> None:
    """Add to the [tokens, loss tokens] tally of `role`."""
    tl = roles.setdefault(role, [0, 0])
    tl[0] += tokens
    tl[1] += loss


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
        "role",
        "roles",
        "safe_split",
        "specials",
        "text_flags",
        "text_parts",
        "text_roles",
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
        # the role key (`user`, `assistant_tool_call`, ...) of what is being written: tokens of
        # constant pieces are counted into `roles` at once, text pieces' roles kept in
        # `text_roles` (their counts come from the batch encode); None: the renderer counts
        self.role: str | None = "system"
        self.text_roles: list[str] = []
        self.ctotal = 0
        self.closs = 0
        self.problems: list[tuple[str, str]] = []
        # tokens and loss tokens per message role, for renderers that attribute them
        self.roles: dict[str, list[int]] = {}
        self.text_parts: list[str] | None = [] if debug else None
        self._buf: list[str] = []
        self._bflag = False
        self._bconst = False

    def problem(self, code: str, message: str) -> None:
        self.problems.append((code, message))

    def count_role(self, role: str, tokens: int, loss: int) -> None:
        add_role_tokens(self.roles, role, tokens, loss)

    def sp(self, s: str, tr: bool) -> None:
        i = self.specials.get(s)
        if i is None:  # not a special token in this vocabulary: plain template text
            self.txt(s, tr, True)
            return
        if self._buf:
            self._flush()
        self.items.append(i)
        self.flags.append(tr)
        if self.role is not None:
            self.count_role(self.role, 1, int(tr))
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
        self._add_ids(seq[0], tr)
        if self.text_parts is not None:
            self.text_parts.append(seq[1])

    def _add_ids(self, ids: tuple[int, ...], tr: bool) -> None:
        """Append a pre-tokenized run and count it (total, loss, its role)."""
        self.items.append(ids)
        self.flags.append(tr)
        self.ctotal += len(ids)
        if tr:
            self.closs += len(ids)
        if self.role is not None:
            self.count_role(self.role, len(ids), len(ids) if tr else 0)

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
            self._add_ids(ids, flag)
        else:
            s = buf[0] if len(buf) == 1 else "".join(buf)
            self.items.append(s)
            self.flags.append(flag)
            self.texts.append(s)
            self.text_flags.append(flag)
            self.text_roles.append(self.role or "unknown")
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
    rec = decoded(rec)  # a `json_string` layout's messages and tools, parsed back
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
                f"message {j}: content contains a special-token string: a trainer that "
                "tokenizes the rendered text (apply_chat_template) turns it into a control token, "
                "as the count here does for Jinja templates (harmony keeps it text); reject such "
                "rows in validation",
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
                        # an object is the `arguments_format: object` layout; anything else
                        # is neither layout
                        if type(args) is not dict:
                            b.problem(
                                "non_string_arguments",
                                f"message {j}: function.arguments is a {type(args).__name__}, "
                                "neither a JSON string nor an object",
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


