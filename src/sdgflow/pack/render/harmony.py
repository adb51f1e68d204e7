"""gpt-oss harmony rendering."""

from __future__ import annotations

from typing import Any

from sdgflow.pack.render.base import Renderer, _dumps, _props

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


