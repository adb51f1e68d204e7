"""gpt-oss harmony rendering, token-exact with openai-harmony's `render_conversation_for_training`.

The conversation a trainer builds from a row (and the one this module renders):

- a system message: `SystemContent.new()` with the constants below (openai-harmony's defaults:
  no current-date line), plus "Calls to these tools must go to the commentary channel:
  'functions'." when the row declares tools;
- a developer message when the row has leading system/developer messages or tools:
  `DeveloperContent.new().with_instructions(...)` with those messages' contents joined by a blank
  line, `.with_function_tools([ToolDescription.new(name, description or "", parameters)])`;
- user messages as they are; a system/developer message after the first other message as a
  developer message with that text;
- an assistant message as: its `reasoning_content` on the analysis channel, then, with tool
  calls, its content (when not empty) on the commentary channel and one message per call
  (`to=functions.NAME`, commentary channel, content type `<|constrain|>json`, the arguments
  string), else its content on the final channel;
- a tool result as author `functions.NAME` (Role.TOOL) to `assistant` on the commentary channel
  (NAME: the message's `name`, else the name of the call its `tool_call_id` answers).

As openai-harmony does by default (`auto_drop_analysis`), when the last assistant message is a
final answer, reasoning (analysis messages) before the first final answer is dropped; later
reasoning stays. The last message ends with `<|return|>` when it is a final answer.

Every text piece is tokenized on its own, as openai-harmony does: the role, ` to=RECIPIENT`, the
channel name, the content type and the content are separate encodes between special tokens.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from sdgflow.pack.render.base import Renderer

# SystemContent defaults (openai-harmony 0.0.8); set HARMONY_CURRENT_DATE to a "YYYY-MM-DD"
# string to add the "Current date:" line the gpt-oss chat template writes.
HARMONY_MODEL_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."
HARMONY_KNOWLEDGE_CUTOFF = "2024-06"
HARMONY_CURRENT_DATE: str | None = None
HARMONY_REASONING_EFFORT = "medium"  # low | medium | high
HARMONY_CHANNELS = ("analysis", "commentary", "final")
HARMONY_TOOLS_NOTE = "Calls to these tools must go to the commentary channel: 'functions'."


def harmony_system(has_tools: bool, *, model_identity: str | None = HARMONY_MODEL_IDENTITY,
                   knowledge_cutoff: str | None = HARMONY_KNOWLEDGE_CUTOFF,
                   current_date: str | None = HARMONY_CURRENT_DATE,
                   reasoning_effort: str | None = HARMONY_REASONING_EFFORT) -> str:
    """The system message's text, as openai-harmony renders a `SystemContent`."""
    top = [model_identity] if model_identity is not None else []
    if knowledge_cutoff is not None:
        top.append(f"Knowledge cutoff: {knowledge_cutoff}")
    if current_date is not None:
        top.append(f"Current date: {current_date}")
    sections = ["\n".join(top)] if top else []
    if reasoning_effort is not None:
        sections.append(f"Reasoning: {reasoning_effort}")
    channels = (f"# Valid channels: {', '.join(HARMONY_CHANNELS)}. "
                "Channel must be included for every message.")
    if has_tools:
        channels += "\n" + HARMONY_TOOLS_NOTE
    sections.append(channels)
    return "\n\n".join(sections)


HARMONY_SYSTEM = harmony_system(False)

# ----------------------------------------------------------------------------- tool namespace
# openai-harmony turns each tool's JSON schema into a TypeScript-like type; the functions below
# follow its output (serde_json values: compact JSON, key order kept, ryu float formatting).


def _rust_lines(s: str) -> list[str]:
    """Rust's `str::lines`: split at "\\n" (a "\\r" before it is dropped), no empty last line."""
    parts = s.split("\n")
    last = parts.pop()
    out = [p[:-1] if p.endswith("\r") else p for p in parts]
    if last:
        out.append(last)
    return out


_U64_MAX = (1 << 64) - 1
_POW10 = [float(f"1e{i}") for i in range(309)]


def _from_parts(negative: bool, significand: int, exponent: int) -> float:
    """serde_json's (default, not `float_roundtrip`) decimal-to-f64: the significand as an f64
    times or divided by one power of ten, so some 17-digit values land one ulp off."""
    f = float(significand)
    while True:
        if abs(exponent) <= 308:
            f = f * _POW10[exponent] if exponent >= 0 else f / _POW10[-exponent]
            break
        if f == 0 or exponent >= 0:
            break
        f /= 1e308
        exponent += 308
    return -f if negative else f


def _serde_number(text: str) -> int | float:
    """The value serde_json parses from a JSON number's text (u64/i64 when integral and in
    range, else f64 by `_from_parts`, extra integer digits counted into the exponent)."""
    negative = text.startswith("-")
    mant, _, exp = text.lstrip("-").lower().partition("e")
    whole, dot, frac = mant.partition(".")
    significand = exponent = 0
    for c in whole:
        if exponent or significand * 10 + int(c) > _U64_MAX:
            exponent += 1  # past u64: serde_json counts the remaining digits
        else:
            significand = significand * 10 + int(c)
    if not dot and not exp:
        if exponent == 0:
            if not negative:
                return significand
            if significand <= 1 << 63 and significand != 0:
                return -significand
            return -float(significand)
        return _from_parts(negative, significand, exponent)
    for c in frac:
        if significand * 10 + int(c) > _U64_MAX:
            break  # serde_json ignores the remaining decimal digits
        significand = significand * 10 + int(c)
        exponent -= 1
    return _from_parts(negative, significand, exponent + (int(exp) if exp else 0))


def _json_float(f: float) -> str:
    """serde_json's float output (ryu): 1.0, 0.00001, 1e16, 1.5e-7."""
    if not math.isfinite(f):
        return "null"
    if f == 0:
        return "-0.0" if math.copysign(1.0, f) < 0 else "0.0"
    sign, digit_tuple, exp = Decimal(repr(f)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exp += len(digit_tuple) - len(digits)
    n = len(digits)
    kk = n + exp  # 10^(kk-1) <= |f| < 10^kk
    if exp >= 0 and kk <= 16:
        s = digits + "0" * exp + ".0"
    elif 0 < kk <= 16:
        s = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        s = "0." + "0" * -kk + digits
    elif n == 1:
        s = f"{digits}e{kk - 1}"
    else:
        s = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return "-" + s if sign else s


def _json_value(v: Any) -> str:
    """`serde_json::Value`'s Display of what serde_json parses from Python's JSON for `v`
    (how openai-harmony receives a tool schema): compact JSON, non-ASCII kept."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        if isinstance(v, float) and not math.isfinite(v):
            return "null"
        x = _serde_number(repr(v) if isinstance(v, float) else str(v))
        return str(x) if isinstance(x, int) else _json_float(x)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json_value(str(k))}:{_json_value(x)}"
                              for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ",".join(_json_value(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def _is_enum(spec: dict) -> bool:
    e = spec.get("enum")
    return isinstance(e, list) and bool(e)


def _default(spec: dict) -> str:
    """A property's `default: ...` comment (strings quoted unescaped, enum strings bare)."""
    d = spec["default"]
    if isinstance(d, str):
        return f'default: "{d}"' if not _is_enum(spec) else f"default: {d}"
    return f"default: {_json_value(d)}"


def _str(spec: dict, key: str) -> str | None:
    v = spec.get(key)
    return v if isinstance(v, str) else None


def _nullable(spec: Any, ts: str) -> str:
    if isinstance(spec, dict) and spec.get("nullable") is True and "null" not in ts:
        return ts + " | null"
    return ts


def _ts(schema: Any, indent: str) -> str:
    """A JSON schema as the TypeScript-like type openai-harmony writes."""
    if not isinstance(schema, dict):
        return "any"
    one_of = schema.get("oneOf")
    if isinstance(one_of, list):
        out = []
        for variant in one_of:
            out.append(f"\n{indent} | ")
            out.append(_nullable(variant, _ts(variant, indent + "   ")))
            if isinstance(variant, dict):
                comments = []
                desc = _str(variant, "description")
                if desc is not None:
                    comments.append(desc)
                if "default" in variant:
                    d = variant["default"]
                    comments.append(f'default: "{d}"' if isinstance(d, str)
                                    and not _is_enum(variant) else f"default: {_json_value(d)}")
                if comments:
                    out.append(" // " + " ".join(comments))
        return "".join(out)
    t = schema.get("type")
    if isinstance(t, list):
        names = ["number" if x == "integer" else x for x in t if isinstance(x, str)]
        if names:
            return " | ".join(names)
    if not isinstance(t, str):
        return "any"
    if t == "object":
        return _ts_object(schema, indent)
    if t == "string":
        e = schema.get("enum")
        if isinstance(e, list):
            vals = [f'"{x}"' for x in e if isinstance(x, str)]
            if vals:
                return " | ".join(vals)
        return "string"
    if t in ("number", "integer"):
        return "number"
    if t == "boolean":
        return "boolean"
    if t == "array":
        if "items" in schema:
            return _ts(schema["items"], indent) + "[]"
        return "Array<any>"
    return "any"


def _ts_object(schema: dict, indent: str) -> str:
    out = []
    desc = _str(schema, "description")
    if desc is not None:
        out.append(f"{indent}// {desc}\n")
    out.append("{\n")
    props = schema.get("properties")
    if isinstance(props, dict):
        req = schema.get("required")
        required = {r for r in req if isinstance(r, str)} if isinstance(req, list) else set()
        for key, val in props.items():
            opt = "" if key in required else "?"
            spec = val if isinstance(val, dict) else {}
            title = _str(spec, "title")
            if title is not None:
                out.append(f"{indent}// {title}\n{indent}//\n")
            one_of = spec.get("oneOf")
            pdesc = _str(spec, "description")
            if one_of is None and pdesc is not None:
                out.append(f"{indent}// {pdesc}\n")
            ex = spec.get("examples")
            if isinstance(ex, list) and ex:
                out.append(f"{indent}// Examples:\n")
                out.extend(f'{indent}// - "{x}"\n' for x in ex if isinstance(x, str))
            if isinstance(one_of, list):
                out.append(_one_of_property(spec, one_of, key, opt, pdesc, indent))
                continue
            out.append(f"{indent}{key}{opt}: ")
            out.append(_nullable(val, _ts(val, indent + "    ")))
            out.append(",")
            if one_of is None and "default" in spec:
                out.append(" // " + _default(spec))
            out.append("\n")
    out.append(f"{indent}}}")
    return "".join(out)


def _one_of_property(spec: dict, one_of: list, key: str, opt: str, pdesc: str | None,
                     indent: str) -> str:
    out = []
    first = one_of[0] if one_of else None
    skip = (pdesc is not None and isinstance(first, dict)
            and _str(first, "description") == pdesc)
    above = not skip and pdesc is not None
    if above:
        out.append(f"{indent}// {pdesc}\n")
    if "default" in spec:
        out.append(f"{indent}// {_default(spec)}\n")
    out.append(f"{indent}{key}{opt}:\n")
    for i, variant in enumerate(one_of):
        out.append(f"{indent} | ")
        out.append(_nullable(variant, _ts(variant, indent + "   ")))
        if isinstance(variant, dict):
            comments = []
            vdesc = _str(variant, "description")
            if not (i == 0 and above) and vdesc is not None and vdesc != pdesc:
                comments.append(vdesc)
            if "default" in variant:
                comments.append(_default(variant))
            if comments:
                out.append(" // " + " ".join(comments))
        out.append("\n")
    out.append(f"{indent},\n")
    return "".join(out)


def _functions(tools: list) -> list[dict]:
    return [t["function"] for t in tools
            if isinstance(t, dict) and isinstance(t.get("function"), dict)]


def harmony_tool_namespace(tools: list[dict]) -> str:
    """The developer message's `# Tools` section for the row's tools (the `functions`
    namespace), as openai-harmony renders `DeveloperContent.with_function_tools`."""
    fns = _functions(tools)
    out = ["## functions\n"]
    if fns:
        out.append("namespace functions {\n")
        for fn in fns:
            desc = fn.get("description")
            out.extend(f"// {line}" for line in _rust_lines(desc if isinstance(desc, str) else ""))
            params = fn.get("parameters")
            name = fn.get("name")
            if params is None:
                out.append(f"type {name} = () => any;\n")
            else:
                out.append(f"type {name} = (_: {_ts(params, '')}) => any;\n")
        out.append("} // namespace functions")
    return "# Tools\n\n" + "\n".join(out)


# ----------------------------------------------------------------------------- renderer

# after `<|start|>assistant`: a call's header; a tool result's header (`{}`: the tool's name)
_CALL_HEAD = (" to=functions.{}", "<|channel|>", "commentary", " ", "<|constrain|>", "json",
              "<|message|>")
_TOOL_HEAD = ("<|start|>", "functions.{}", " to=assistant", "<|channel|>", "commentary",
              "<|message|>")


class HarmonyRenderer(Renderer):
    """gpt-oss harmony format, token-exact with openai-harmony's
    `render_conversation_for_training` for the conversation described in the module docstring.

    Loss flags: every token an assistant message contributes after `<|start|>assistant` is
    trainable: the recipient (` to=functions.NAME`), the channel, the content type, the
    content and the closing `<|end|>`/`<|call|>`/`<|return|>`. That is what the model samples
    once a prompt ends with `<|start|>assistant` (harmony lets it choose the channel and the
    recipient). An earlier turn's final answer closes with `<|end|>` (openai-harmony's
    training render; the model would sample `<|return|>` there) and that token trains too.
    `<|start|>assistant` itself and all system, developer, user and tool tokens are not
    trainable; dropped reasoning is not in the tokens at all.

    Every text piece here sits between two special tokens, so pieces are appended directly
    (no boundary bookkeeping): this is the hot path of the benchmark."""

    name = "harmony"

    def __init__(self, tok, loss_on: str = "all_assistant"):
        super().__init__(tok)
        self.final_answer_only = loss_on == "final_answer"
        seq = self.seq
        sp = tok.specials
        self._end = sp["<|end|>"]
        self._call = sp["<|call|>"]
        self._return = sp["<|return|>"]
        # the module constants as they are now (tests and users may set them before this)
        self._system = {
            has: seq("<|start|>", "system", "<|message|>", harmony_system(
                has, model_identity=HARMONY_MODEL_IDENTITY,
                knowledge_cutoff=HARMONY_KNOWLEDGE_CUTOFF, current_date=HARMONY_CURRENT_DATE,
                reasoning_effort=HARMONY_REASONING_EFFORT), "<|end|>")
            for has in (False, True)
        }
        self._dev_head = seq("<|start|>", "developer", "<|message|>")
        self._end_seq = seq("<|end|>")
        self._a_head = seq("<|start|>", "assistant")[0]
        self._h_analysis = seq("<|channel|>", "analysis", "<|message|>")[0]
        self._h_commentary = seq("<|channel|>", "commentary", "<|message|>")[0]
        self._h_final = seq("<|channel|>", "final", "<|message|>")[0]
        self._heads: dict[str, tuple[int, ...]] = {}  # role -> `<|start|>role<|message|>`
        self._call_heads: dict[str, tuple[int, ...]] = {}  # tool name -> call header
        self._tool_heads: dict[str, tuple[int, ...]] = {}  # tool name -> result header

    def _named_head(self, cache: dict, name: str, parts: tuple[str, ...]) -> tuple[int, ...]:
        """`parts` with `{}` filled by a tool name, tokenized once per name."""
        if len(cache) > 10_000:
            cache.clear()
        h = cache[name] = self.seq(*(p.format(name) for p in parts))[0]
        return h

    def render_msgs(self, msgs, tools, b):
        has_tools = bool(tools) and bool(_functions(tools))
        b.role = "system"
        b.ids(self._system[has_tools], False)
        start = 0
        instr = []
        n = len(msgs)
        while start < n and msgs[start].role in ("system", "developer"):
            instr.append(msgs[start].content)
            start += 1
        end = self._end
        if instr or has_tools:
            b.role = "developer"
            b.ids(self._dev_head, False)
            if instr:
                b.txt("# Instructions\n\n" + "\n\n".join(instr) + ("\n\n" if has_tools else ""),
                      False)
            if has_tools:
                b.const(self.tools_text(tools, harmony_tool_namespace), False)
            b.ids(self._end_seq, False)
        b.finish()
        # auto_drop_analysis: with a final answer last, reasoning up to the first final answer
        # is not rendered
        keep_from = 0
        last_a = None
        for k in range(n - 1, start - 1, -1):
            if msgs[k].role == "assistant":
                last_a = msgs[k]
                break
        if last_a is not None and not last_a.calls:
            for k in range(start, n):
                if msgs[k].role == "assistant" and not msgs[k].calls:
                    keep_from = k + 1
                    break
        items, flags, texts, tflags, troles = b.items, b.flags, b.texts, b.text_flags, b.text_roles
        # tokens and loss tokens of the constant pieces, per role (texts counted after encode)
        const = {"user": [0, 0], "tool": [0, 0], "assistant": [0, 0],
                 "assistant_tool_call": [0, 0], "developer": [0, 0]}
        last_k = n - 1 if last_a is not None else -1
        while last_k >= start and msgs[last_k].role != "assistant":
            last_k -= 1
        ct = cl = 0
        a_head = self._a_head
        na = len(a_head)
        heads, call_heads, tool_heads = self._heads, self._call_heads, self._tool_heads
        for k in range(start, n):
            m = msgs[k]
            role = m.role
            if role == "assistant":
                tr = k == last_k or not self.final_answer_only
                rk = "assistant_tool_call" if m.calls else "assistant"
                cc = const[rk]
                parts = []  # (header ids, text, closing id) of each harmony message
                if m.reasoning and k >= keep_from:
                    parts.append((self._h_analysis, m.reasoning, end))
                if m.calls:
                    if m.content:
                        parts.append((self._h_commentary, m.content, end))
                    for name, args, _ in m.calls:
                        h = call_heads.get(name) or self._named_head(call_heads, name,
                                                                      _CALL_HEAD)
                        parts.append((h, args, self._call))
                else:
                    parts.append((self._h_final, m.content,
                                  self._return if k == n - 1 else end))
                for h, text, close in parts:
                    items += (a_head, h, text, close)
                    flags += (False, tr, tr, tr)
                    texts.append(text)
                    tflags.append(tr)
                    troles.append(rk)
                    ct += na + len(h) + 1
                    cc[0] += na + len(h) + 1
                    if tr:
                        cl += len(h) + 1
                        cc[1] += len(h) + 1
            else:
                if role == "tool":
                    name = m.tool_name
                    h = tool_heads.get(name) or self._named_head(tool_heads, name, _TOOL_HEAD)
                else:
                    h = heads.get(role)
                    if h is None:
                        h = heads[role] = self.seq(
                            "<|start|>", "developer" if role == "system" else role,
                            "<|message|>")[0]
                rk = role if role in const else "developer"
                items += (h, m.content, end)
                flags += (False, False, False)
                texts.append(m.content)
                tflags.append(False)
                troles.append(rk)
                ct += len(h) + 1
                const[rk][0] += len(h) + 1
        for rk, (t, lo) in const.items():
            if t:
                b.count_role(rk, t, lo)
        b.ctotal += ct
        b.closs += cl
