"""Every validation check: a plain function `Conversation -> list[str]` (one sentence per problem
found, empty when the row passes) registered in the one table `CHECKS` with its code, default
severity (from `codes.py`, which the recipe model reads too), description and scope. Reports and
docs are generated from that table.

Checks run in table order, cheap structural ones first. `messages.missing` is fatal: with no
message list nothing else can be checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import TYPE_CHECKING, Any, Literal

import orjson
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for

from sdgflow.project.projections import loads
from sdgflow.validate.codes import DEFAULT_SEVERITY, Severity
from sdgflow.validate.config import reasoning_regex

if TYPE_CHECKING:
    from sdgflow.project.config import OpenAIMessagesProjection, StructuredMessagesProjection
    from sdgflow.validate.config import ValidationConfig

    Projection = StructuredMessagesProjection | OpenAIMessagesProjection

ROLES = ("system", "user", "assistant", "tool")
NOT_OBJECT = object()  # the "role" of a message that is not an object (in Conversation.roles)
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# isinstance targets as constant tuples: `int | float` builds a union object at every call.
_NUMBERS = (int, float)
_SCALARS = (str, int, float)
_CONTAINERS = (dict, list)


# --------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class Check:
    code: str
    func: Callable[[Conversation], list[str]]
    default: Severity
    description: str
    # "any": every projection; "tool_calling": only projections that produce tool calls
    # (structured_messages), never the single-turn openai_messages shape.
    scope: Literal["any", "tool_calling"]
    # Recipe knobs that switch a check off without touching its severity.
    enabled: Callable[[ValidationConfig, Projection | None], bool] = lambda cfg, proj: True


CHECKS: dict[str, Check] = {}


def check(code: str, description: str, scope: Literal["any", "tool_calling"] = "tool_calling",
          enabled: Callable[[ValidationConfig, Projection | None], bool] | None = None):
    """Register the check of `code`, a code of `codes.DEFAULT_SEVERITY` (its default)."""
    def register(func: Callable[[Conversation], list[str]]) -> Callable[[Conversation], list[str]]:
        CHECKS[code] = Check(code, func, DEFAULT_SEVERITY[code], description, scope,
                             enabled or (lambda cfg, proj: True))
        return func
    return register


def is_tool_calling(projection: Projection | None) -> bool:
    return projection is None or projection.type == "structured_messages"


def active_checks(cfg: ValidationConfig, projection: Projection | None
                  ) -> list[tuple[Check, Severity]]:
    """The checks that run for this recipe, in order, with their effective severity."""
    tool_calling = is_tool_calling(projection)
    active = []
    for entry in CHECKS.values():
        severity = cfg.severity(entry.code)
        if severity == "off" or (entry.scope == "tool_calling" and not tool_calling):
            continue
        if entry.enabled(cfg, projection):
            active.append((entry, severity))
    return active


# --------------------------------------------------------------------------------------------
# Per-row analysis shared by the checks (computed once per row)


@dataclass(slots=True)
class Call:
    where: str  # "messages[4].tool_calls[0]"
    msg_index: int
    id: Any
    name: Any
    raw_arguments: Any
    args: dict[str, Any] | None  # the arguments as an object, when they are one
    args_problem: str | None


class Conversation:
    """One row under validation plus everything derived from it that several checks need."""

    def __init__(self, row: dict[str, Any], context: dict[str, Any], record_id: Any,
                 cfg: ValidationConfig, projection: Projection | None,
                 seen: Any = None,
                 tools_text: bytes | None = None, near_index: Any = None) -> None:
        # `json_string` layouts: the checks read the arrays (`row` is then a parsed copy), and a
        # key that is not the JSON string its format asks for is named here, per key.
        self.layout: dict[str, str] = {}
        if (getattr(projection, "tools_format", "list") == "json_string"
                or getattr(projection, "messages_format", "list") == "json_string"):
            row, tools_text = _decode_layout(row, projection, self.layout)
        self.row = row
        self.tools_text = tools_text  # orjson.dumps(row["tools"]) when the reader has it
        self.context = context
        self.record_id = record_id
        self.cfg = cfg
        self.projection = projection
        self.args_as_object = getattr(projection, "arguments_format", "string") == "object"
        # digest -> first record id: a dict, or quality.table.FirstRecordTable (get, in)
        self.seen = seen if seen is not None else {}
        self.digest: int | None = None
        self.near_index = near_index  # a quality.near_dup.NearDuplicateIndex, or None
        self.near_probe: Any = None  # this row's probe of it, indexed when the row is valid
        # llm_judge column -> {criterion: (score or None, reasoning)}, or why it is unreadable
        self.judged: dict[str, dict[str, tuple[float | None, str]] | str] = {}
        self._verdict: Any = None
        self._final_padded: Any = None
        self._final_tokens: list[str] | None = None
        messages = row.get("messages")
        self.messages: list[Any] = messages if isinstance(messages, list) else []
        # Each message's role (None when it has none; NOT_OBJECT when the message is no object)
        # and content (None when absent), read once for the checks that look at every message.
        try:  # every message an object: dict.get mapped in C (it refuses anything else)
            self.roles: list[Any] = list(map(dict.get, self.messages, repeat("role")))
            self.contents: list[Any] = list(map(dict.get, self.messages, repeat("content")))
        except TypeError:
            self.roles = [msg.get("role") if isinstance(msg, dict) else NOT_OBJECT
                          for msg in self.messages]
            self.contents = [msg.get("content") if isinstance(msg, dict) else None
                             for msg in self.messages]
        self.calls: list[Call] = []
        self.call_turns: list[int] = []
        self.tool_indices: list[int] = []
        self.malformed: list[str] = []
        self.unanswered: list[str] = []
        self.orphans: list[str] = []
        self.name_mismatches: list[str] = []
        self.results: list[tuple[Call, Any]] = []  # (call, tool message content)
        if self.messages and is_tool_calling(projection):
            self._walk()

    def _walk(self) -> None:
        pending: dict[str, Call] = {}
        as_object = self.args_as_object
        messages = self.messages
        for i, role in enumerate(self.roles):
            if role is NOT_OBJECT:
                continue
            msg = messages[i]
            if role == "tool":
                self.tool_indices.append(i)
                tcid = msg.get("tool_call_id")
                call = pending.pop(tcid, None) if isinstance(tcid, str) else None
                if call is None:
                    self.orphans.append(
                        f"messages[{i}] is a tool message without a tool_call_id"
                        if tcid is None else
                        f"messages[{i}] is a tool message whose tool_call_id {tcid!r} answers "
                        "no pending tool call of the preceding assistant turn")
                    continue
                name = msg.get("name")
                if name is not None and name != call.name:
                    self.name_mismatches.append(
                        f"messages[{i}].name {name!r} does not match the function {call.name!r} "
                        f"called by {call.where}")
                self.results.append((call, msg.get("content")))
                continue
            if pending:
                before = ("the next assistant turn" if role == "assistant"
                          else f"the next {role} message" if isinstance(role, str)
                          else "the next message")
                for call in pending.values():
                    self.unanswered.append(
                        f"{call.where}.id {call.id!r} has no tool message answering it before "
                        f"{before} (messages[{i}])")
                pending = {}
            if role != "assistant" or msg.get("tool_calls") is None:
                continue
            calls = msg["tool_calls"]
            if not isinstance(calls, list) or not calls:
                self.malformed.append(
                    f"messages[{i}].tool_calls is "
                    + ("an empty list" if isinstance(calls, list) else
                       f"a {type(calls).__name__}, not a list"))
                continue
            self.call_turns.append(i)
            for j, raw in enumerate(calls):
                where = f"messages[{i}].tool_calls[{j}]"
                call = _make_call(raw, where, i, as_object, self.malformed)
                if call is None:
                    continue
                self.calls.append(call)
                if isinstance(call.id, str) and call.id:
                    pending.setdefault(call.id, call)
        for call in pending.values():
            self.unanswered.append(
                f"{call.where}.id {call.id!r} has no tool message answering it before the "
                "conversation ends")

    def tools_verdict(self) -> ToolsVerdict | None:
        if self._verdict is None:
            tools = self.row.get("tools")
            self._verdict = (tools_verdict(tools, self.tools_text) if isinstance(tools, list)
                             else False)
        return self._verdict or None

    def tool_validators(self) -> dict[str, Any]:
        """Function name -> compiled `parameters` validator of every named tool."""
        verdict = self.tools_verdict()
        return verdict.validators if verdict else {}

    def final_padded(self) -> str | None:
        """`padded` of the final assistant answer (None when there is no such answer, or it
        has no tokens)."""
        if self._final_padded is None:
            text = _final_text(self)
            final = padded(text) if text is not None else ""
            self._final_padded = final if final.strip() else False
        return self._final_padded or None

    def final_tokens(self) -> list[str] | None:
        """Tokens of the final assistant answer (None when there is no such answer), made
        only for the checks a substring test of `final_padded` does not settle."""
        if self._final_tokens is None:
            final = self.final_padded()
            if final is None:
                return None
            self._final_tokens = final.split()
        return self._final_tokens


# Each distinct `tools` string parsed once (a recipe has a handful), its list shared by every
# row that carries it; the string's bytes are its key in the tools verdict cache.
_TOOLS_STRINGS: dict[str, tuple[Any, bytes]] = {}


def _decode_layout(row: dict[str, Any], projection: Any, problems: dict[str, str]
                   ) -> tuple[dict[str, Any], bytes | None]:
    """`(row with its json_string keys parsed, the tools' text)`; what is wrong with a key goes
    to `problems` and its value stays as it is."""
    view = dict(row)
    tools_text = None
    for key, fmt in (("messages", projection.messages_format),
                     ("tools", projection.tools_format)):
        if fmt != "json_string" or key not in row:
            continue  # (a missing key is reported by its own check)
        value = row[key]
        if not isinstance(value, str):
            problems[key] = (f"{key} is a {type(value).__name__}, not a JSON string "
                             f"(output_projection.{key}_format is json_string)")
            continue
        hit = _TOOLS_STRINGS.get(value) if key == "tools" else None
        if hit is None:
            try:
                parsed = loads(value)
            except ValueError as exc:
                problems[key] = f"{key} is a string that is not JSON text: {exc}"
                continue
            if key == "messages":
                view[key] = parsed
                continue
            if len(_TOOLS_STRINGS) >= 1024:
                _TOOLS_STRINGS.clear()
            hit = _TOOLS_STRINGS[value] = (parsed, value.encode())
        view[key], tools_text = hit
    return view, tools_text


def _make_call(raw: Any, where: str, index: int, as_object: bool,
               malformed: list[str]) -> Call | None:
    if not isinstance(raw, dict):
        malformed.append(f"{where} is a {type(raw).__name__}, not an object")
        return None
    problems = []
    call_id = raw.get("id")
    if not isinstance(call_id, str) or not call_id:
        problems.append("has no id")
    if raw.get("type") != "function":
        problems.append(f"has type {raw.get('type')!r} instead of 'function'")
    fn = raw.get("function")
    if not isinstance(fn, dict):
        malformed.extend(f"{where} {p}" for p in [*problems, "has no function object"])
        return None
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        problems.append("has no function.name")
    if problems:
        malformed.extend(f"{where} {p}" for p in problems)
    arguments = fn.get("arguments")
    args: dict[str, Any] | None = None
    problem = None
    if "arguments" not in fn:
        problem = f"{where}.function has no arguments"
    elif isinstance(arguments, dict):
        args = arguments
    elif isinstance(arguments, str):
        try:
            parsed = loads(arguments)
        except ValueError as exc:
            problem = f"{where}.function.arguments is not valid JSON ({exc}): {arguments[:80]!r}"
        else:
            if isinstance(parsed, dict):
                args = parsed
            else:
                problem = (f"{where}.function.arguments parses to a {type(parsed).__name__}, "
                           "not an object")
    else:
        problem = f"{where}.function.arguments is a {type(arguments).__name__}, not an object"
    return Call(where, index, call_id, name, arguments, args, problem)


# --------------------------------------------------------------------------------------------
# JSON Schema validators, compiled once per distinct schema (keyed by canonical JSON)

_VALIDATORS: dict[bytes, Any] = {}


_PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, _NUMBERS) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}
_PLAIN_KEYS = {"type", "description", "title", "enum"}


class SchemaValidator:
    """A compiled jsonschema validator plus, for the common flat `{type: object, properties:
    {name: {type: primitive}}, required}` shape, a plain-Python pre-check: arguments it accepts
    are valid by construction; anything else goes to jsonschema, which names the error."""

    __slots__ = ("fast", "jsonschema")

    def __init__(self, schema: dict[str, Any], validator: Any) -> None:
        self.jsonschema = validator
        self.fast = self._compile_fast(schema)

    @staticmethod
    def _compile_fast(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
        if schema.get("type") != "object" or set(schema) - {
                "type", "properties", "required", "additionalProperties", "description",
                "title"}:
            return None
        props = schema.get("properties", {})
        required = schema.get("required", [])
        closed = schema.get("additionalProperties", True) is False
        if not isinstance(props, dict) or not isinstance(required, list):
            return None
        tests = {}
        for name, sub in props.items():
            if (not isinstance(sub, dict) or set(sub) - _PLAIN_KEYS
                    or sub.get("type") not in _PRIMITIVES):
                return None
            enum = sub.get("enum")
            type_ok = _PRIMITIVES[sub["type"]]
            tests[name] = type_ok if enum is None else (
                lambda v, t=type_ok, e=enum: t(v) and v in e)

        def fast(args: Any) -> bool:
            if not isinstance(args, dict):
                return False
            for name in required:
                if name not in args:
                    return False
            for name, value in args.items():
                test = tests.get(name)
                if test is None:
                    if closed:
                        return False
                elif not test(value):
                    return False
            return True
        return fast

    def first_error(self, instance: Any) -> Any:
        # Fast path, kept: jsonschema alone made validate 15% slower on the bench's varied
        # corpus (2026-12-01).
        if self.fast is not None and self.fast(instance):
            return None
        return next(self.jsonschema.iter_errors(instance), None)


def compiled_validator(schema: Any) -> SchemaValidator | SchemaError:
    """The validator of `schema` (compiled once per distinct schema), or its `SchemaError`."""
    try:
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        key = repr(schema).encode()
    hit = _VALIDATORS.get(key)
    if hit is None:
        if not isinstance(schema, dict):
            hit = SchemaError(f"parameters is a {type(schema).__name__}, not a JSON Schema object")
        else:
            cls = validator_for(schema, default=Draft202012Validator)
            try:
                cls.check_schema(schema)
                hit = SchemaValidator(schema, cls(schema))
            except SchemaError as exc:
                hit = exc
        if len(_VALIDATORS) > 10_000:  # bounded: a run normally sees a handful of schemas
            _VALIDATORS.clear()
        _VALIDATORS[key] = hit
    return hit


# --------------------------------------------------------------------------------------------
# Text helpers for grounding, markdown and dedupe

_WORD = re.compile(r"[^\W_]+")
_NUMBER_IN_TEXT = re.compile(r"\d[\d,]*(?:\.\d+)?")
_NUMERIC = re.compile(r"^\s*[$€£¥]?\s*-?\d[\d,]*(?:\.\d+)?\s*%?\s*$")
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can cannot could did do does doing down during each few for from
further had has have having he her here hers him his how i if in into is it its itself just let
me more most my no nor not of off on once only or other our ours out over own same she should
so some such than that the their them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your
yours yourself please thanks thank hi hello ok okay yes sure also may might must shall true
false null none n/a na
""".split())  # noqa: SIM905


def tokens(text: str) -> list[str]:
    """Case-folded runs of letters/digits."""
    return _WORD.findall(text.casefold())


def padded(text: str) -> str:
    """Each token between single spaces."""
    return " " + " ".join(tokens(text)) + " "


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    if len(word) <= 4 or not word.isalpha():
        return word
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 4 and word[-1] in "ey":
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


class _StemTable(dict[str, str]):
    """`stem` as a plain dict lookup (half the cost of the lru_cache call, per final-answer
    token); emptied when it passes 65536 words, so memory does not grow with the input."""

    def __missing__(self, word: str) -> str:
        if len(self) >= 65536:
            self.clear()
        value = self[word] = stem(word)
        return value


_STEMS = _StemTable()


def content_words(text: str) -> list[str]:
    return [stem(t) for t in tokens(text)
            if t not in STOPWORDS and (len(t) >= 3 or t.isdigit())]


@lru_cache(maxsize=4096)
def hint_words(hint: str) -> tuple[list[str], frozenset[str]]:
    """Content words of a policy hint (hints repeat across records: computed once each)."""
    words = content_words(hint)
    return words, frozenset(words)


@lru_cache(maxsize=4096)
def padded_cached(text: str) -> str:
    return padded(text)


def _number_key(x: float | int) -> str:
    """Numbers are compared by value: 49.99, $49.99, 49.990 and 1,200 / 1200 all match."""
    return f"#{round(float(abs(x)), 6)!r}"


def numbers_in(text: str) -> set[str]:
    out = set()
    for raw in _NUMBER_IN_TEXT.findall(text):
        try:
            out.add(_number_key(float(raw.replace(",", ""))))
        except ValueError:
            continue
    return out


def _scalars(value: Any, out: list[Any]) -> None:
    """Append the str / int / float leaves of `value` (bools excluded), depth first."""
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        if isinstance(value, _SCALARS) and not isinstance(value, bool):
            out.append(value)
        return
    for v in value:  # leaves inline: a tool result is mostly a flat object of scalars
        if isinstance(v, str) or (isinstance(v, _NUMBERS) and not isinstance(v, bool)):
            out.append(v)
        elif isinstance(v, _CONTAINERS):
            _scalars(v, out)


@lru_cache(maxsize=65536)
def _citable(value: Any) -> tuple[tuple[str, ...], str] | None:
    """(padded forms, label) of a tool-result scalar worth citing, or None for trivia."""
    if isinstance(value, str) and _NUMERIC.match(value):
        try:
            value = float(value.strip().strip("$€£¥%").replace(",", "").strip())
        except ValueError:
            return None
    if isinstance(value, _NUMBERS):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if abs(value) < 10 and float(value).is_integer():
            return None  # "1", "2": appear in any text
        return (_number_key(value),), repr(value)
    toks = tokens(value)
    if not toks or (len(toks) == 1 and (len(toks[0]) < 2 or toks[0] in STOPWORDS)):
        return None
    return (" " + " ".join(toks) + " ",), repr(value)


def _cites(final_padded: str, final_words: set[str], forms: tuple[str, ...]) -> bool:
    for form in forms:
        if form[0] == "#":
            if form in final_words:
                return True
            continue
        if form in final_padded:
            return True
        if form.count(" ") < 5:
            continue  # fewer than 4 words (a form is " w1 w2 ... "): the share rule needs 4
        words = [w for w in form.split() if w not in STOPWORDS]
        if len(words) >= 4 and sum(w in final_words for w in words) * 2 >= len(words):
            return True
    return False


_MARKDOWN = re.compile(
    r"(?P<fence>```)"
    r"|^[ \t]{0,3}(?P<heading>#{1,6})[ \t]+\S"
    r"|(?P<bold>\*\*[^*\n]+\*\*|__[^_\n]+__)"
    r"|^[ \t]*(?P<list>[-*+]|\d{1,3}[.)])[ \t]+\S"
    r"|^[ \t]*(?P<table>\|[^\n]*\|)[ \t]*$",
    re.M,
)
_LINE_START = re.compile(r"\n[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]")
_MARKDOWN_NAMES = {"fence": "a code fence", "heading": "a # heading", "bold": "**bold**",
                   "list": "a list line", "table": "a | table row"}


def final_message(conv: Conversation) -> dict[str, Any] | None:
    last = conv.messages[-1] if conv.messages else None
    return last if isinstance(last, dict) else None


def _final_text(conv: Conversation) -> str | None:
    last = final_message(conv)
    if (last is None or last.get("role") != "assistant" or last.get("tool_calls")
            or not isinstance(last.get("content"), str) or not last["content"].strip()):
        return None
    return last["content"]


def _q(values: list[str], limit: int = 5) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


# --------------------------------------------------------------------------------------------
# The checks, in the order they run


@check("messages.missing", "messages is present and a non-empty list, written as "
       "one JSON string when output_projection.messages_format is json_string (fatal)", "any")
def messages_missing(conv: Conversation) -> list[str]:
    if "messages" in conv.layout:
        return [conv.layout["messages"]]
    messages = conv.row.get("messages")
    if messages is None:
        return ["the row has no messages key"]
    if not isinstance(messages, list):
        return [f"messages is a {type(messages).__name__}, not a list"]
    return [] if messages else ["messages is an empty list"]


@check("messages.role_invalid",
       "every message is an object whose role is system, user, assistant or tool", "any")
def role_invalid(conv: Conversation) -> list[str]:
    roles = conv.roles
    if (roles.count("system") + roles.count("user") + roles.count("assistant")
            + roles.count("tool") == len(roles)
            and ("tool" not in roles or is_tool_calling(conv.projection))):
        return []  # every message an object with a known role (C-level scans)
    out = []
    for i, msg in enumerate(conv.messages):
        if not isinstance(msg, dict):
            out.append(f"messages[{i}] is a {type(msg).__name__}, not an object")
        elif msg.get("role") not in ROLES:
            out.append(f"messages[{i}].role {msg.get('role')!r} is not one of "
                       f"{', '.join(ROLES)}")
        elif not is_tool_calling(conv.projection) and msg["role"] == "tool":
            out.append(f"messages[{i}] is a tool message in a projection without tools")
    return out


@check("messages.system_first",
       "the first message, and only the first, is the system message", "any",
       enabled=lambda cfg, proj: is_tool_calling(proj) or bool(getattr(proj, "system_prompt",
                                                                       None)))
def system_first(conv: Conversation) -> list[str]:
    roles = conv.roles
    if not roles:  # only reached with messages.missing off
        return ["the conversation has no messages; it must open with a system message"]
    opens = roles[0] == "system"
    if (opens or roles[0] is NOT_OBJECT) and roles.count("system") == opens:
        return []  # a system message opens (or the first is no object) and no other follows
    out = []
    first = conv.messages[0]
    if isinstance(first, dict) and first.get("role") != "system":
        out.append(f"messages[0] has role {first.get('role')!r}; the conversation must open "
                   "with a system message")
    messages = conv.messages
    for i in range(1, len(messages)):
        msg = messages[i]
        if isinstance(msg, dict) and msg.get("role") == "system":
            out.append(f"messages[{i}] is a second system message; only messages[0] may be one")
    return out


@check("messages.count",
       "the number of messages is within validation.min_messages..max_messages")
def message_count(conv: Conversation) -> list[str]:
    n, lo, hi = len(conv.messages), conv.cfg.min_messages, conv.cfg.max_messages
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bounds = (f"{lo} to {hi}" if lo is not None and hi is not None
                  else f"at least {lo}" if lo is not None else f"at most {hi}")
        return [f"the conversation has {n} messages; the recipe allows {bounds} "
                "(validation.min_messages / validation.max_messages)"]
    return []


@check("messages.content_invalid",
       "system and user messages have non-empty text content; assistant content is text (or "
       "null beside tool_calls)", "any")
def content_invalid(conv: Conversation) -> list[str]:
    out = []
    messages, contents = conv.messages, conv.contents
    for i, role in enumerate(conv.roles):
        if role in ("system", "user"):
            content = contents[i]
            if not isinstance(content, str):
                out.append(f"messages[{i}] ({role}) content is "
                           f"{'missing' if content is None else 'a ' + type(content).__name__}"
                           ", not text")
            elif not content.strip():
                out.append(f"messages[{i}] ({role}) has empty content")
        elif role == "assistant":
            content = contents[i]
            if content is not None and not isinstance(content, str):
                out.append(f"messages[{i}] (assistant) content is a {type(content).__name__}, "
                           "not text")
            elif not messages[i].get("tool_calls") and not (content or "").strip() and i < len(
                    messages) - 1:
                out.append(f"messages[{i}] is an assistant message with neither content nor "
                           "tool_calls")
    return out


@check("tools.missing", "tools is present and a non-empty list, written as one JSON "
       "string when output_projection.tools_format is json_string")
def tools_missing(conv: Conversation) -> list[str]:
    if "tools" in conv.layout:
        return [conv.layout["tools"]]
    tools = conv.row.get("tools")
    if tools is None:
        return ["the row has no tools key; a tool-calling row needs its function definitions"]
    if not isinstance(tools, list):
        return [f"tools is a {type(tools).__name__}, not a list"]
    return [] if tools else [
        "tools is an empty list; a tool-calling row needs its function definitions"]


def _tool_problems(tools: list[Any]) -> list[str]:
    out, names = [], set()
    for k, tool in enumerate(tools):
        where = f"tools[{k}]"
        if not isinstance(tool, dict):
            out.append(f"{where} is a {type(tool).__name__}, not an object")
            continue
        if tool.get("type") != "function":
            out.append(f"{where}.type is {tool.get('type')!r}, not 'function'")
        fn = tool.get("function")
        if not isinstance(fn, dict):
            out.append(f"{where} has no function object")
            continue
        name = fn.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            out.append(f"{where}.function.name {name!r} does not match ^[A-Za-z0-9_-]{{1,64}}$")
        elif name in names:
            out.append(f"{where}.function.name {name!r} is defined twice")
        else:
            names.add(name)  # a string: an object or list name is no dict key
        params = fn.get("parameters")
        if params is None:
            out.append(f"{where}.function ({name}) has no parameters schema")
            continue
        validator = compiled_validator(params)
        if isinstance(validator, SchemaError):
            out.append(f"{where}.function.parameters ({name}) is not a valid JSON Schema: "
                       f"{validator.message}")
        elif params.get("type") != "object":
            out.append(f"{where}.function.parameters ({name}) has type "
                       f"{params.get('type')!r}; function parameters must be type 'object'")
    return out


@dataclass(frozen=True, slots=True)
class ToolsVerdict:
    problems: tuple[str, ...]
    validators: dict[str, Any]  # function name -> compiled validator (or SchemaError / None)


# Recipes reuse a handful of tool lists across all rows: judge each distinct list once.
_TOOLS_VERDICTS: dict[bytes, ToolsVerdict] = {}


def tools_verdict(tools: list[Any], text: bytes | None = None) -> ToolsVerdict:
    """The verdict on `tools`, looked up by its compact JSON `text` (made when not given)."""
    key = text
    if key is None:
        try:
            key = orjson.dumps(tools)
        except TypeError:
            key = None
    hit = _TOOLS_VERDICTS.get(key) if key is not None else None
    if hit is None:
        validators: dict[str, Any] = {}
        for tool in tools:
            fn = tool.get("function") if isinstance(tool, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                params = fn.get("parameters")
                validators.setdefault(fn["name"], None if params is None
                                      else compiled_validator(params))
        hit = ToolsVerdict(tuple(_tool_problems(tools)), validators)
        if key is not None:
            if len(_TOOLS_VERDICTS) > 10_000:
                _TOOLS_VERDICTS.clear()
            _TOOLS_VERDICTS[key] = hit
    return hit


@check("tools.invalid",
       "each tool is {type: function, function: {name matching ^[A-Za-z0-9_-]{1,64}$, "
       "parameters: a valid JSON Schema of type object}}, names unique")
def tools_invalid(conv: Conversation) -> list[str]:
    verdict = conv.tools_verdict()
    return list(verdict.problems) if verdict else []


@check("format.arguments_type",
       "function.arguments is a JSON string after projection (an object when the projection's "
       "arguments_format is object)")
def arguments_type(conv: Conversation) -> list[str]:
    want = dict if conv.args_as_object else str
    return [f"{c.where}.function.arguments is a {type(c.raw_arguments).__name__}, not "
            f"{'an object' if conv.args_as_object else 'a JSON string'}"
            for c in conv.calls
            if c.raw_arguments is not None and not isinstance(c.raw_arguments, want)]


@check("format.tool_content_type", "tool message content is a string after projection")
def tool_content_type(conv: Conversation) -> list[str]:
    out = []
    for i in conv.tool_indices:
        content = conv.messages[i].get("content")
        if not isinstance(content, str):
            out.append(f"messages[{i}] (tool) content is "
                       f"{'missing' if content is None else 'a ' + type(content).__name__}"
                       ", not a string")
    return out


@check("tool_calls.malformed",
       "each tool call is an object with a string id, type 'function' and function.name")
def calls_malformed(conv: Conversation) -> list[str]:
    return conv.malformed


@check("tool_calls.turn_count",
       "the number of assistant turns with tool_calls equals validation.tool_call_turns",
       enabled=lambda cfg, proj: cfg.tool_call_turns is not None)
def turn_count(conv: Conversation) -> list[str]:
    want, got = conv.cfg.tool_call_turns, len(conv.call_turns)
    if got == want:
        return []
    where = f" ({', '.join(f'messages[{i}]' for i in conv.call_turns)})" if got else ""
    return [f"found {got} assistant turns with tool_calls{where}; the recipe requires exactly "
            f"{want} (validation.tool_call_turns)"]


@check("tool_messages.count",
       "the number of tool messages equals validation.tool_messages",
       enabled=lambda cfg, proj: cfg.tool_messages is not None)
def tool_message_count(conv: Conversation) -> list[str]:
    want, got = conv.cfg.tool_messages, len(conv.tool_indices)
    if got == want:
        return []
    return [f"found {got} tool messages; the recipe requires exactly {want} "
            "(validation.tool_messages)"]


@check("tool_calls.per_turn",
       "no assistant turn makes more than validation.max_tool_calls_per_turn calls",
       enabled=lambda cfg, proj: cfg.max_tool_calls_per_turn is not None)
def calls_per_turn(conv: Conversation) -> list[str]:
    limit = conv.cfg.max_tool_calls_per_turn
    out = []
    for i in conv.call_turns:
        n = len(conv.messages[i]["tool_calls"])
        if n > limit:
            out.append(f"messages[{i}] makes {n} tool calls in one turn; at most {limit} allowed "
                       "(validation.max_tool_calls_per_turn)")
    return out


@check("tool_calls.duplicate_id", "every tool_call id is unique in the conversation")
def duplicate_ids(conv: Conversation) -> list[str]:
    first: dict[str, str] = {}
    out = []
    for c in conv.calls:
        if isinstance(c.id, str) and c.id:
            if c.id in first:
                out.append(f"tool_call id {c.id!r} is used by {first[c.id]} and {c.where}")
            else:
                first[c.id] = c.where
    return out


@check("tool_calls.unanswered",
       "every tool call is answered by a tool message with its tool_call_id before the next "
       "assistant turn")
def unanswered(conv: Conversation) -> list[str]:
    return conv.unanswered


@check("tool_messages.orphan",
       "every tool message answers a pending call of the preceding assistant turn")
def orphans(conv: Conversation) -> list[str]:
    return conv.orphans


@check("tool_messages.name_mismatch",
       "a tool message's name, when given, is the name of the function it answers")
def name_mismatch(conv: Conversation) -> list[str]:
    return conv.name_mismatches


@check("tool_calls.unknown_function", "every called function is defined in tools")
def unknown_function(conv: Conversation) -> list[str]:
    if not conv.calls or not conv.row.get("tools") or not isinstance(conv.row["tools"], list):
        return []  # no tools at all is reported once, by tools.missing
    schemas = conv.tool_validators()
    return [f"{c.where} calls {c.name!r}, which is not in tools "
            f"({_q(sorted(schemas)) or 'none defined'})"
            for c in conv.calls if isinstance(c.name, str) and c.name not in schemas]


@check("tool_calls.arguments_invalid", "function.arguments parse to a JSON object")
def arguments_invalid(conv: Conversation) -> list[str]:
    return [c.args_problem for c in conv.calls if c.args_problem]


@check("tool_calls.arguments_schema",
       "arguments validate against the called tool's parameters schema (jsonschema)")
def arguments_schema(conv: Conversation) -> list[str]:
    if not conv.calls or not isinstance(conv.row.get("tools"), list):
        return []
    validators = conv.tool_validators()
    out = []
    for c in conv.calls:
        # (a name that is no string, e.g. an object, is reported by tool_calls.malformed)
        validator = (validators.get(c.name) if c.args is not None and isinstance(c.name, str)
                     else None)
        if validator is None or isinstance(validator, SchemaError):
            continue  # unknown function / bad schema: reported by their own checks
        error = validator.first_error(c.args)
        if error is not None:
            path = "".join(f"[{p!r}]" for p in error.absolute_path)
            out.append(f"{c.where} arguments{path} for {c.name!r} fail its parameters schema: "
                       f"{error.message}")
    return out


@check("seed.mismatch",
       "argument values named in validation.seed_fidelity equal the record's seed values",
       enabled=lambda cfg, proj: bool(cfg.seed_fidelity))
def seed_mismatch(conv: Conversation) -> list[str]:
    out = []
    fidelity = conv.cfg.seed_fidelity
    for c in conv.calls:
        if not c.args:
            continue
        for arg, field in fidelity.items():
            if arg in c.args and conv.context.get(field) is not None:
                got, want = c.args[arg], conv.context[field]
                if type(got) is str and got == want:
                    continue  # the same text: no need to normalise both
                if str(got).strip().casefold() != str(want).strip().casefold():
                    out.append(f"{c.where} argument {arg}={got!r} differs from the seed value "
                               f"{field}={want!r}")
    return out


@check("dialogue.no_clarifying_question",
       "an assistant message asks a question ('?') before the first tool-call turn",
       enabled=lambda cfg, proj: cfg.require_clarifying_question)
def no_clarifying_question(conv: Conversation) -> list[str]:
    stop = conv.call_turns[0] if conv.call_turns else len(conv.messages) - 1
    contents = conv.contents
    for i, role in enumerate(conv.roles[:stop]):
        if role == "assistant":
            content = contents[i]
            if isinstance(content, str) and "?" in content:
                return []
    what = f"messages[{stop}]" if conv.call_turns else "the final answer"
    return [f"no assistant message asks a clarifying question before the tool call ({what})"
            if conv.call_turns else
            f"no assistant message asks a clarifying question before {what}"]


@check("final.not_assistant",
       "the last message is an assistant answer with text content and no tool_calls", "any")
def final_not_assistant(conv: Conversation) -> list[str]:
    last = final_message(conv)
    i = len(conv.messages) - 1
    if i < 0:  # only reached with messages.missing off
        return ["the conversation has no messages, so no final assistant answer"]
    if last is None:
        return [f"the last message (messages[{i}]) is not an object"]
    if last.get("role") != "assistant":
        return [f"the last message (messages[{i}]) has role {last.get('role')!r}; the "
                "conversation must end with an assistant answer"]
    if last.get("tool_calls"):
        return [f"the last message (messages[{i}]) is a tool call, not an answer"]
    content = last.get("content")
    if not isinstance(content, str) or not content.strip():
        return [f"the final assistant message (messages[{i}]) has no text content"]
    return []


@check("final.ungrounded_tool",
       "the final answer cites at least one value from the tool result (case-insensitive, "
       "numbers in any common format: 49.99, $49.99, 1,200)")
def ungrounded_tool(conv: Conversation) -> list[str]:
    if not conv.results:
        return []
    final_padded = conv.final_padded()
    if final_padded is None:
        return []
    final_words: set[str] | None = None  # made when a substring test does not settle a form
    numbers_added = False
    echo: Callable[[tuple[tuple[str, ...], str]], bool] | None = None
    candidates: list[tuple[tuple[str, ...], str]] = []
    cited: list[tuple[tuple[str, ...], str]] = []
    # Lazily, in result order: the first cited value the answer could not have echoed from the
    # call's arguments or the policy hint settles it (what a clean row does within a value or
    # two). Number forms only ever meet the numbers of the final text, so those are parsed at
    # the first number candidate; word forms never meet them.
    for cit in _result_candidates(conv):
        candidates.append(cit)
        form = cit[0][0]  # a citable value has one form
        if form[0] != "#" and form.count(" ") < 5:
            hit = form in final_padded  # what _cites answers for a word form under four words
        else:
            if final_words is None:
                final_words = set(conv.final_tokens() or ())
            if form[0] == "#" and not numbers_added:
                final_words |= numbers_in(_final_text(conv) or "")
                numbers_added = True
            hit = _cites(final_padded, final_words, cit[0])
        if hit:
            cited.append(cit)
            if echo is None:
                echo = _echo_test(conv)
            if not echo(cit):
                return []
    if not candidates:
        return []  # nothing citable in the result (e.g. {"ok": true})
    # Values the answer could repeat without reading the result (the call's own arguments, the
    # policy hint's words) only count when the result offers nothing else.
    if echo is None:
        echo = _echo_test(conv)
    fresh = [c for c in candidates if not echo(c)]
    if cited and not fresh:
        return []
    labels = [label for _, label in (fresh or candidates)]
    return [f"the final answer (messages[{len(conv.messages) - 1}]) cites no value from the tool "
            f"result (looked for {_q(labels)})"]


def _result_candidates(conv: Conversation) -> Iterator[tuple[tuple[str, ...], str]]:
    """Citable forms of every scalar of every tool result, in order."""
    for _, content in conv.results:
        value = content
        if isinstance(content, str) and content[:1] in ("{", "["):
            try:
                value = loads(content)
            except ValueError:
                value = content
        scalars: list[Any] = []
        _scalars(value, scalars)
        for v in scalars:
            cit = _citable(v)
            if cit:
                yield cit


def _echo_test(conv: Conversation) -> Callable[[tuple[tuple[str, ...], str]], bool]:
    echoed: set[str] = set()
    for call, _ in conv.results:
        if call.args:
            values: list[Any] = []
            _scalars(call.args, values)
            for v in values:
                cit = _citable(v)
                if cit:
                    echoed.update(cit[0])
    field = conv.cfg.grounding_policy_field
    hint = conv.context.get(field) if field else None
    hint_padded = padded_cached(hint) if isinstance(hint, str) else ""

    def echo(cit: tuple[tuple[str, ...], str]) -> bool:
        for form in cit[0]:  # noqa: SIM110 - a loop, not any(<generator>): cheaper, per row
            if form in echoed or form in hint_padded:
                return True
        return False
    return echo


@check("final.ungrounded_policy",
       "the final answer reflects the policy hint: >= 40% of the hint's content words (light "
       "stemming) or one 3-word run of them", "any",
       enabled=lambda cfg, proj: bool(cfg.grounding_policy_field))
def ungrounded_policy(conv: Conversation) -> list[str]:
    hint = conv.context.get(conv.cfg.grounding_policy_field or "")
    if not isinstance(hint, str) or not hint.strip():
        return []
    final_padded = conv.final_padded()
    if final_padded is None:
        return []
    if padded_cached(hint) in final_padded:
        return []  # every token of the hint is one of the answer's: every content word shared
    toks = conv.final_tokens() or []
    words, unique = hint_words(hint)
    if not unique:
        return []
    need = math.ceil(0.4 * len(unique))
    shared = unique.intersection(map(_STEMS.__getitem__, toks))
    if len(shared) >= need:
        return []
    if len(words) >= 3:
        final_seq = " " + " ".join(stem(t) for t in toks
                                   if t not in STOPWORDS and (len(t) >= 3 or t.isdigit())) + " "
        for k in range(len(words) - 2):
            if " " + " ".join(words[k:k + 3]) + " " in final_seq:
                return []
    return [f"the final answer shares {len(shared)} of the policy hint's {len(unique)} content "
            f"words (needs {need}); hint ({conv.cfg.grounding_policy_field}): {hint[:120]!r}"]


@check("content.markdown",
       "no markdown (code fences, # headings, **bold**, list lines, | tables) in system, user "
       "or assistant content", "any", enabled=lambda cfg, proj: cfg.plain_text)
def markdown(conv: Conversation) -> list[str]:
    # Fast path, kept: cheap substring triggers over the joined texts first (a superset of the
    # markdown, none spanning two lines); most rows are clean and stop here. Running the regex
    # on every text instead made validate 13% slower on the bench's varied corpus (2026-12-01).
    if not _markdown_trigger("\n" + "\n".join([content for role, content
                                                in zip(conv.roles, conv.contents, strict=True)
                                                if role != "tool" and isinstance(content, str)])):
        return []
    texts = [(i, msg) for i, msg in enumerate(conv.messages)
             if isinstance(msg, dict) and msg.get("role") != "tool"
             and isinstance(msg.get("content"), str)]
    out = []
    for i, msg in texts:
        found = _MARKDOWN.search(msg["content"])
        if found:
            kind = found.lastgroup or "fence"
            out.append(f"messages[{i}] ({msg.get('role')}) contains markdown: "
                       f"{_MARKDOWN_NAMES[kind]} ({found.group(0).strip()[:40]!r})")
    return out


def _markdown_trigger(joined: str) -> bool:
    """Whether `joined` (texts, each after a newline) may hold markdown."""
    # (A one-character scan is a memchr: the two- and three-character ones run behind it.)
    return bool(("`" in joined and "```" in joined) or ("*" in joined and "**" in joined)
                or ("_" in joined and "__" in joined) or "#" in joined or "|" in joined
                or _LINE_START.search(joined))


@lru_cache(maxsize=16)
def _reasoning_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return reasoning_regex(list(patterns))


@check("content.leaked_reasoning",
       "no reasoning markup (<think>, <reasoning>, harmony channel tokens, 'analysis' "
       "preambles: validation.reasoning_patterns) in any message's content", "any",
       enabled=lambda cfg, proj: bool(cfg.reasoning_patterns))
def leaked_reasoning(conv: Conversation) -> list[str]:
    found = _reasoning_regex(tuple(conv.cfg.reasoning_patterns))
    texts = [(i, content) for i, content in enumerate(conv.contents) if isinstance(content, str)]
    # One search over the joined texts settles a clean row (nearly all of them).
    if not found.search("\n".join(text for _, text in texts)):
        return []
    out = []
    for i, text in texts:
        hit = found.search(text)
        if hit:
            role = conv.roles[i] if isinstance(conv.roles[i], str) else "?"
            out.append(f"messages[{i}] ({role}) carries reasoning markup {hit.group(0)[:40]!r} "
                       "(validation.reasoning_patterns)")
    # A match only across two texts (a pattern spanning the joining newline) is none.
    return out


def conversation_digest(conv: Conversation) -> int:
    """64-bit hash of roles, contents (case-folded, whitespace runs collapsed) and called
    functions with their arguments (call ids left out: they carry no content). The hash is
    Python's (keyed SipHash) of the normalized text: it only ever meets hashes of the same
    process, in the dedupe table."""
    parts: list[str] = []
    append = parts.append
    for msg, role, content in zip(conv.messages, conv.roles, conv.contents, strict=True):
        if role is NOT_OBJECT:
            append(repr(msg))
            continue
        append(role if type(role) is str else str(role))
        append(content.strip() if isinstance(content, str) else repr(content))
        calls = msg.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    append(str(fn.get("name")))
                    args = fn.get("arguments")
                    append(args if isinstance(args, str) else repr(args))
                else:
                    append(repr(call))
    text = "\0".join(parts)
    return hash(" ".join(text.casefold().split()))


@check("dedupe.duplicate",
       "the conversation is not a duplicate (normalized text hash) of an earlier valid one",
       "any", enabled=lambda cfg, proj: cfg.dedupe)
def duplicate(conv: Conversation) -> list[str]:
    conv.digest = conversation_digest(conv)
    first = conv.seen.get(conv.digest)
    if first is None:
        return []
    return [f"the conversation duplicates record {first} (same normalized messages)"]


@check("dedupe.near_duplicate",
       "the conversation is not a near-duplicate (MinHash/LSH over word shingles of the user and "
       "assistant text, validation.near_duplicate.threshold) of an earlier valid one",
       "any", enabled=lambda cfg, proj: cfg.dedupe)
def near_duplicate(conv: Conversation) -> list[str]:
    index = conv.near_index
    if index is None or (conv.digest is not None and conv.digest in conv.seen):
        return []  # (an exact duplicate is dedupe.duplicate's)
    text = " ".join([content for role, content in zip(conv.roles, conv.contents, strict=True)
                     if (role == "user" or role == "assistant") and isinstance(content, str)])
    conv.near_probe = probe = index.probe(tokens(text))
    found = index.match(probe) if probe is not None else None
    if found is None:
        return []
    cfg = conv.cfg.near_duplicate
    return [f"the conversation nearly duplicates record {found[0]}: estimated Jaccard "
            f"{found[1]:.2f} of their user and assistant text's word {cfg.shingle_words}-"
            f"shingles (validation.near_duplicate.threshold is {cfg.threshold:g})"]


_LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")


def judge_answer(conv: Conversation, column: str) -> dict[str, tuple[float | None, str]] | str:
    """The judge column's scores as {criterion: (score, reasoning)} (a score that is no number
    is None), or a sentence saying why the answer cannot be read; parsed once per row."""
    hit = conv.judged.get(column)
    if hit is not None:
        return hit
    value = conv.context.get(column)
    parsed: Any = value
    if value is None:
        result: dict[str, tuple[float | None, str]] | str = (
            f"the row has no {column!r} value (did the judge call fail?)")
    else:
        if isinstance(value, str):
            from sdgflow.project.parse import ParseError, parse_object
            try:
                parsed, _ = parse_object(value)
            except ParseError as exc:
                parsed = f"judge column {column!r} is not a JSON object: {exc}"
        if isinstance(parsed, str):
            result = parsed
        elif not isinstance(parsed, dict):
            result = f"judge column {column!r} holds a {type(parsed).__name__}, not an object"
        else:
            result = {name: _judged_score(entry) for name, entry in parsed.items()}
    conv.judged[column] = result
    return result


def _judged_score(entry: Any) -> tuple[float | None, str]:
    """(score, reasoning) of one criterion: `{"score": 4, "reasoning": "..."}`, or a bare
    score; "4", "4/5" and "4 - good" read as 4."""
    reasoning = ""
    if isinstance(entry, dict):
        reasoning = str(entry.get("reasoning") or entry.get("reason") or "")
        entry = entry.get("score")
    if isinstance(entry, bool):
        return None, reasoning
    if isinstance(entry, _NUMBERS):
        return float(entry), reasoning
    found = _LEADING_NUMBER.match(entry) if isinstance(entry, str) else None
    return (float(found.group(1)) if found else None), reasoning


@check("judge.unreadable",
       "every llm_judge column named in validation.judge holds a JSON object with a numeric "
       "score for each gated criterion", "any", enabled=lambda cfg, proj: bool(cfg.judge))
def judge_unreadable(conv: Conversation) -> list[str]:
    out: list[str] = []
    for column, score, answer in _gated(conv):
        if isinstance(answer, str):
            problem = answer
        elif score not in answer:
            problem = (f"judge column {column!r} has no score for {score!r} "
                       f"(it scored {_q(sorted(answer)) or 'nothing'})")
        elif answer[score][0] is None:
            problem = f"judge column {column!r} scored {score!r} with no number"
        else:
            continue
        if problem not in out:
            out.append(problem)
    return out


def _gated(conv: Conversation) -> Iterator[tuple[str, str, Any]]:
    """(column, criterion, the column's answer: judge_answer) of every validation.judge rule."""
    for rule in conv.cfg.judge:
        yield rule.column, rule.score, judge_answer(conv, rule.column)


@check("judge.below_min",
       "every criterion gated in validation.judge scores at least its min (the judge's "
       "reasoning is the sentence)", "any", enabled=lambda cfg, proj: bool(cfg.judge))
def judge_below_min(conv: Conversation) -> list[str]:
    out = []
    for rule, (_, _, answer) in zip(conv.cfg.judge, _gated(conv), strict=True):
        # (an unreadable answer is judge.unreadable's)
        score, reasoning = (None, "") if isinstance(answer, str) else answer.get(rule.score,
                                                                                 (None, ""))
        if score is not None and score < rule.min:
            out.append(f"{rule.column}.{rule.score} scored {score:g} < {rule.min:g} "
                       f"(validation.judge): {reasoning or 'the judge gave no reasoning'}")
    return out
