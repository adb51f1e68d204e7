"""ChatML / Hermes rendering."""

from __future__ import annotations

from sdgflow.pack.render.base import Renderer, _dumps

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


