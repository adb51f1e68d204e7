"""The simulator's knob names and help texts, stdlib only: `sdgflow serve-sim --help` shows
them without importing pydantic (the settings model lives in `settings`)."""

from __future__ import annotations

DEFAULT_MODELS: tuple[str, ...] = ("openai/gpt-oss-20b", "google/gemma-4-31B-it", "sim-model")

# Fault knobs in the order the CLI lists them, with the help text it shows.
FAULT_HELP: dict[str, str] = {
    "rate_429": "answer 429 rate_limit_exceeded with a Retry-After header",
    "rate_500": "answer 500 server_error after the service latency",
    "rate_hang": "never answer (until the client times out or hang_seconds pass)",
    "rate_reset": "drop the connection mid-response (client sees a connection error)",
    "rate_truncate": "cut the text mid-structure with finish_reason=length",
    "rate_fenced": "wrap the JSON in a ```json fence after a one-line preamble",
    "rate_malformed": "emit a trailing comma or single-quoted keys",
    "rate_escaped_args": "send tool arguments and tool content as escaped JSON strings",
    "rate_reasoning": "add reasoning (reasoning_content, reasoning, or inline <think>)",
    "rate_reasoning_only": "send only reasoning: content empty or null",
    "rate_empty_choices": "answer 200 with choices: []",
    "rate_html": "answer 200 with a proxy's HTML error page (text/html, 502 Bad Gateway)",
    "rate_cut_body": "answer 200 with the JSON body cut short (a complete but truncated message)",
    "rate_stall": "send the headers, then trickle whitespace and never finish the body",
}
