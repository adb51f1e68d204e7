"""Llama 3.1 rendering."""

from __future__ import annotations

from sdgflow.pack.render.base import Builder, Renderer, _dumps

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


