"""The simulator's reply generator: a plausible answer for a chat request, decided by a seed.

For the customer-support tool-calling prompt it builds a schema-valid conversation object (the
prompt's `{"tools": [...], "messages": [...]}` shape) from the prompt's seed facts and tool list.
An llm_judge prompt (its "Score the above on each criterion" instructions) gets a JSON object of
varied, mostly good scores with one sentence of reasoning each. Any other prompt gets a short
plain-text reply that reuses the prompt's key words. The same
(prompt, request seed, simulator seed) always gives the same reply; another request seed gives
another one, so n records with one prompt and distinct seeds are n different samples.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

FACT_KEYS = (
    "customer_name",
    "customer_issue",
    "order_id",
    "product",
    "policy_hint",
    "customer_tone",
    "channel",
)
# Unanchored patterns that start with a literal "- ": about 8x faster than `^\s*-` with
# re.MULTILINE on a 3 kB prompt, and parsing runs on every request.
_FACT_RE = re.compile(r"- (" + "|".join(FACT_KEYS) + r"):[ \t]*([^\n]*)")
_TOOL_RE = re.compile(r"- ([A-Za-z_]\w*)\(([^()\n]*)\)[ \t]*$", re.MULTILINE)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool line of the prompt: `- name(param: type, ...)`."""

    name: str
    params: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class SeedFacts:
    """The `- key: value` seed lines of the customer-support prompt."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str) -> str:
        return self.values.get(key) or default


@dataclass(frozen=True, slots=True)
class Reply:
    """A generated answer: a conversation object (tool prompt) or plain text, plus reasoning."""

    conversation: dict[str, Any] | None
    text: str | None
    reasoning: str


def reply_rng(prompt: str, request_seed: int | None, settings_seed: int) -> random.Random:
    """The RNG of one reply; hashing the prompt keeps replies stable across processes."""
    digest = hashlib.sha256(f"{settings_seed}|{request_seed}|{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def parse_facts(prompt: str) -> SeedFacts:
    return SeedFacts({k: v.strip() for k, v in _FACT_RE.findall(prompt) if v.strip()})


def parse_tools(prompt: str) -> list[ToolSpec]:
    tools: list[ToolSpec] = []
    for name, raw_params in _TOOL_RE.findall(prompt):
        params: list[tuple[str, str]] = []
        for part in raw_params.split(","):
            pname, _, ptype = part.partition(":")
            if pname.strip():
                params.append((pname.strip(), ptype.strip() or "string"))
        tools.append(ToolSpec(name, tuple(params)))
    return tools


def generate_reply(
    prompt: str, *, request_seed: int | None, settings_seed: int, extra_turns_rate: float
) -> Reply:
    """The reply to `prompt` (all message texts joined); see the module docstring."""
    rng = reply_rng(prompt, request_seed, settings_seed)
    judged = judge_reply(rng, prompt)  # first: a judge prompt quotes the seed facts too
    if judged is not None:
        return judged
    facts = parse_facts(prompt)
    tools = parse_tools(prompt)
    if tools and "order_id" in facts.values:
        return _support_conversation(rng, facts, tools, extra_turns_rate)
    return _plain_reply(rng, prompt)


# ---------------------------------------------------------------------------------------------
# Customer-support conversation
# ---------------------------------------------------------------------------------------------

# Issue keywords -> tool; first match wins, so the specific "address" beats the generic words.
_TOOL_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("address",), "update_shipping_address"),
    (
        ("refund", "charged twice", "double charge", "double-charge", "return"),
        "check_refund_eligibility",
    ),
    (("warranty", "broken", "defect", "stopped working", "cracked"), "verify_warranty"),
    (("subscription", "billing", "renewal", "renew", "membership"), "get_subscription_status"),
    (("delivery", "late", "tracking", "delayed", "shipping", "arrive"), "lookup_order"),
)

_TOOL_DESCRIPTIONS = {
    "lookup_order": "Look up an order by ID and return its shipping status.",
    "check_refund_eligibility": "Check whether an order qualifies for a refund.",
    "update_shipping_address": "Change the shipping address of an order that has not shipped.",
    "verify_warranty": "Verify the warranty coverage of a product on an order.",
    "get_subscription_status": "Get the status and next renewal of a subscription order.",
}
_PARAM_DESCRIPTIONS = {
    "order_id": "The order ID, for example ORD-10492.",
    "reason": "Why the customer wants a refund.",
    "new_address": "The full new shipping address.",
    "product": "The product name as shown on the order.",
}
_JSON_TYPES = {
    "string": "string",
    "str": "string",
    "int": "integer",
    "integer": "integer",
    "number": "number",
    "float": "number",
    "bool": "boolean",
    "boolean": "boolean",
}

_CHANNEL_LABEL = {
    "web_chat": "the website chat",
    "mobile_app": "the mobile app",
    "email_followup": "email support",
}


def choose_tool(issue: str, tools: list[ToolSpec]) -> ToolSpec:
    """The tool the issue calls for, falling back to the first tool the prompt offers."""
    by_name = {t.name: t for t in tools}
    lowered = issue.lower()
    for keywords, name in _TOOL_RULES:
        if name in by_name and any(k in lowered for k in keywords):
            return by_name[name]
    return by_name.get("lookup_order", tools[0])


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _issue_phrase(issue: str) -> str:
    issue = issue.strip().rstrip(".!")
    # Lower-case the first letter to embed the issue mid-sentence, but keep acronyms ("TV").
    return issue if issue[:2].isupper() else issue[:1].lower() + issue[1:]


def _tool_schema(tool: ToolSpec) -> dict[str, Any]:
    props = {
        name: {
            "type": _JSON_TYPES.get(ptype.lower(), "string"),
            "description": _PARAM_DESCRIPTIONS.get(name, f"The {name.replace('_', ' ')}."),
        }
        for name, ptype in tool.params
    }
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": _TOOL_DESCRIPTIONS.get(tool.name, f"Run {tool.name.replace('_', ' ')}."),
            "parameters": {
                "type": "object",
                "properties": props,
                "required": [name for name, _ in tool.params],
            },
        },
    }


def _address(rng: random.Random) -> str:
    street = rng.choice(["Maple Street", "Oak Avenue", "Lakeview Drive", "Pine Road", "Elm Court"])
    city, state = rng.choice(
        [
            ("Austin", "TX"),
            ("Denver", "CO"),
            ("Portland", "OR"),
            ("Columbus", "OH"),
            ("Raleigh", "NC"),
        ]
    )
    return f"{rng.randint(12, 9800)} {street}, {city}, {state} {rng.randint(10000, 99999)}"


def _date(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _money(rng: random.Random) -> float:
    # Cents never end in 0 so the number prints the same in JSON and in the answer text.
    return round(rng.randint(12, 480) + rng.choice([0.99, 0.49, 0.95, 0.79, 0.25]), 2)


def _arguments(tool: ToolSpec, facts: SeedFacts, address: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name, _ in tool.params:
        if name == "order_id":
            args[name] = facts.get("order_id", "")
        elif name == "product":
            args[name] = facts.get("product", "item")
        elif name == "new_address":
            args[name] = address
        else:
            args[name] = _issue_phrase(facts.get("customer_issue", "customer request"))
    return args


def _tool_result(
    rng: random.Random, tool: str, facts: SeedFacts, address: str
) -> tuple[dict[str, Any], str]:
    """The tool's JSON result and the answer sentence that cites its values verbatim."""
    oid = facts.get("order_id", "")
    issue = facts.get("customer_issue", "").lower()
    product = facts.get("product", "item")
    if tool == "lookup_order":
        if any(k in issue for k in ("late", "delay", "slow")):
            status = rng.choice(["delayed", "held at the carrier facility", "delayed in transit"])
        elif "track" in issue:
            status = rng.choice(["in transit", "out for delivery", "awaiting carrier scan"])
        elif any(k in issue for k in ("missing", "never", "not received", "lost")):
            status = rng.choice(["marked as delivered", "in transit", "returned to sender"])
        else:
            status = rng.choice(["processing", "shipped", "in transit"])
        eta = rng.choice(
            [
                "tomorrow",
                "in 2 business days",
                "by Friday",
                "on Monday",
                "within 3 to 5 business days",
            ]
        )
        carrier = rng.choice(["UPS", "FedEx", "DHL", "USPS"])
        result = {"order_id": oid, "status": status, "carrier": carrier, "eta": eta}
        if rng.random() < 0.5:
            result["last_scan"] = rng.choice(["Memphis hub", "Louisville hub", "local depot"])
        cite = rng.choice(
            [
                f"I checked order {oid}: it is currently {status} with {carrier}, "
                f"and the latest estimate is {eta}.",
                f"Order {oid} shows as {status}. {carrier} now expects to deliver it {eta}.",
                f"The tracking for {oid} says {status}, with delivery expected {eta}.",
            ]
        )
    elif tool == "check_refund_eligibility":
        eligible = rng.random() < 0.85
        amount = _money(rng)
        result = {"order_id": oid, "refund_eligible": eligible, "amount": amount, "currency": "USD"}
        if eligible:
            days = rng.choice(["3 to 5 business days", "5 to 7 business days", "up to 10 days"])
            result["refund_method"] = "original payment method"
            result["processing_time"] = days
            cite = rng.choice(
                [
                    f"Good news: order {oid} is eligible for a refund of {amount} USD to your "
                    f"original payment method, which usually takes {days}.",
                    f"I confirmed that {oid} qualifies for a {amount} USD refund. Expect it within "
                    f"{days}.",
                ]
            )
        else:
            why = rng.choice(["outside the return window", "item already refunded"])
            result["reason"] = why
            cite = (
                f"I checked order {oid}, and the {amount} USD charge is not eligible for an "
                f"automatic refund because it is {why}."
            )
    elif tool == "update_shipping_address":
        ships = rng.choice(["tomorrow", "Thursday", "within 24 hours"])
        result = {
            "order_id": oid,
            "address_updated": True,
            "new_address": address,
            "ships_on": ships,
        }
        cite = rng.choice(
            [
                f"Done: order {oid} will now ship to {address}, and it is scheduled to ship "
                f"{ships}.",
                f"I updated {oid}. The new shipping address is {address} and it ships {ships}.",
            ]
        )
    elif tool == "verify_warranty":
        active = rng.random() < 0.8
        expires = _date(rng)
        coverage = rng.choice(["free repair or replacement", "replacement only", "parts and labor"])
        result = {
            "order_id": oid,
            "product": product,
            "warranty_active": active,
            "warranty_expires": expires,
            "coverage": coverage,
        }
        if active:
            cite = (
                f"Your {product} on order {oid} is under warranty until {expires}, and it "
                f"covers {coverage}."
            )
        else:
            cite = (
                f"I checked order {oid}: the warranty on your {product} ended on {expires}, "
                f"so it no longer covers {coverage}."
            )
    elif tool == "get_subscription_status":
        plan = rng.choice(["Monthly Plus", "Annual Premium", "Basic Monthly"])
        status = rng.choice(["active", "past due", "renewal pending"])
        renewal = _date(rng)
        amount = _money(rng)
        result = {
            "order_id": oid,
            "plan": plan,
            "status": status,
            "next_renewal": renewal,
            "amount": amount,
        }
        cite = (
            f"Your {plan} subscription on {oid} is {status}; the next renewal of "
            f"{amount} USD is on {renewal}."
        )
    else:
        result = {"order_id": oid, "status": "request recorded"}
        cite = f"I ran {tool} for order {oid}, and the status is request recorded."
    return result, cite


def _support_conversation(
    rng: random.Random, facts: SeedFacts, tools: list[ToolSpec], extra_turns_rate: float
) -> Reply:
    name = facts.get("customer_name", "there")
    issue_raw = facts.get("customer_issue", "a problem with my order")
    issue = _issue_phrase(issue_raw)
    oid = facts.get("order_id", "ORD-00000")
    product = facts.get("product", "order")
    hint = _sentence(facts.get("policy_hint", "We always try to make things right."))
    tone = facts.get("customer_tone", "calm").lower()
    channel = facts.get("channel", "web_chat").lower()

    tool = choose_tool(issue_raw, tools)
    others = [t for t in tools if t.name != tool.name]
    listed = (
        {tool.name, *rng.sample([t.name for t in others], rng.randint(1, min(3, len(others))))}
        if others
        else {tool.name}
    )
    tool_defs = [_tool_schema(t) for t in tools if t.name in listed]
    address = _address(rng)

    system = rng.choice(
        [
            f"You are a friendly ecommerce support agent on "
            f"{_CHANNEL_LABEL.get(channel, channel)}. "
            "Ask for missing details before using tools, ground answers in tool results, and "
            "follow store policy.",
            "You are a concise customer-support assistant for an online store. Verify order "
            "details with the available tools before answering and never invent order data.",
            "You are an ecommerce support agent. Be empathetic, ask a clarifying question when "
            "information is missing, call one tool to check the facts, and explain the outcome "
            "in plain text.",
        ]
    )

    opener = rng.choice(
        [
            f"Hi, this is {name}. My {product} order has a problem: {issue}.",
            f"Hello, I ordered the {product} a while ago and now I'm dealing with {issue}.",
            f"Hey, quick question about my {product}. The problem: {issue}. I don't have the "
            "order number handy.",
            f"I need help with the {product} I bought. Short version: {issue}.",
        ]
    )
    tone_prefix = {
        "frustrated": rng.choice(["Honestly this is really annoying. ", "I'm pretty upset. "]),
        "rushed": rng.choice(["Quick one, I'm short on time. ", "Need this sorted fast. "]),
        "confused": rng.choice(["Sorry, I'm a bit lost here. ", ""]),
    }.get(tone, "")
    tone_suffix = {
        "frustrated": " This is not the first time I've had to reach out!",
        "confused": " I'm not really sure what I should do next.",
        "calm": rng.choice([" Thanks in advance.", " Could you take a look?"]),
    }.get(tone, "")
    channel_prefix = {"email_followup": "Following up on my earlier email. "}.get(channel, "")
    channel_suffix = {"mobile_app": " I'm writing from the app."}.get(channel, "")
    user_open = f"{channel_prefix}{tone_prefix}{opener}{tone_suffix}{channel_suffix}"

    empathy = {
        "frustrated": "I'm sorry about the hassle, and I understand the frustration. ",
        "rushed": "I'll keep this quick. ",
        "confused": "No problem, I'll walk you through it. ",
    }.get(tone, "")
    if tool.name == "update_shipping_address":
        ask = rng.choice(
            [
                f"Hi {name}, {empathy}Could you share the order ID and the full new address?",
                f"{empathy}Sure, {name}. Which order is it, and what address should we ship to?",
            ]
        )
        answer_id = rng.choice(
            [
                f"It's {oid}, and the new address is {address}.",
                f"Order {oid}. Please send it to {address} instead.",
            ]
        )
    else:
        ask = rng.choice(
            [
                f"Hi {name}, {empathy}Could you share your order number so I can look into it?",
                f"Thanks for reaching out, {name}. {empathy}Do you have the order ID from your "
                "confirmation email?",
                f"{empathy}I can help with that, {name}. What is the order ID for the {product}?",
            ]
        )
        answer_id = rng.choice(
            [
                f"Sure, it's {oid}.",
                f"Found it: {oid}.",
                f"I think it's {oid}, it was in the confirmation email.",
                f"{oid}" + (". Please hurry." if tone == "rushed" else "."),
            ]
        )

    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": user_open},
        {"role": "assistant", "content": ask},
        {"role": "user", "content": answer_id},
    ]
    # A second clarifying exchange sometimes, as a careful agent would do.
    if rng.random() < 0.35:
        follow_q, follow_a = {
            "lookup_order": (
                f"Thanks. Just to confirm, is this the order with the {product}?",
                "Yes, that's the one.",
            ),
            "check_refund_eligibility": (
                "Got it. Would you like the refund to go back to your original payment method?",
                "Yes, the original payment method is fine.",
            ),
            "update_shipping_address": (
                "Thanks. Is the order still showing as processing in your account?",
                "I think so, it hasn't shipped yet.",
            ),
            "verify_warranty": (
                f"Thanks. Can you briefly describe what happened to the {product}?",
                f"Basically {issue}.",
            ),
            "get_subscription_status": (
                "Thanks. Is this about the upcoming renewal or a charge you already see?",
                "The renewal, I think.",
            ),
        }.get(
            tool.name,
            (
                "Thanks. Is there anything else I should know before I check?",
                "No, that's everything.",
            ),
        )
        messages += [
            {"role": "assistant", "content": follow_q},
            {"role": "user", "content": follow_a},
        ]

    call_id = f"call_{tool.name}_{rng.randint(1, 999):03d}"
    arguments = _arguments(tool, facts, address)
    result, cite = _tool_result(rng, tool.name, facts, address)
    messages.append(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": tool.name, "arguments": arguments},
                }
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call_id, "name": tool.name, "content": result})

    greeting = {
        "frustrated": f"I'm really sorry for the trouble, {name}.",
        "rushed": f"Quick update, {name}.",
        "confused": f"No worries, {name}, here is what is going on.",
    }.get(tone, f"Thanks for your patience, {name}.")
    policy = rng.choice(
        [
            f"Per our policy: {hint}",
            f"Our policy says: {hint}",
            f"One more thing from our policy: {hint}",
        ]
    )
    closing = {
        "email_followup": " Best regards, the Support Team.",
        "mobile_app": " You will also see this update in the app.",
    }.get(channel, rng.choice([" Let me know if there is anything else I can do.", ""]))
    messages.append({"role": "assistant", "content": f"{greeting} {cite} {policy}{closing}"})

    if len(messages) + 2 <= 10 and rng.random() < extra_turns_rate:
        question = rng.choice(
            [
                "Thanks! Will I get an email about this?",
                "Okay. Is there anything else I need to do on my side?",
                "Got it, thanks. Just so I'm sure, can you repeat the key point?",
            ]
        )
        recap = rng.choice(
            [
                f"You will get an email confirmation shortly. To recap: {cite} {policy}",
                f"Nothing else is needed from you. To recap: {cite} {policy}",
            ]
        )
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": recap}]

    reasoning = (
        f"The customer {name} reports {issue}. I need the order ID first, then I call "
        f"{tool.name} for {oid} and ground the answer in the result and the policy."
    )
    return Reply({"tools": tool_defs, "messages": messages}, None, reasoning)


# ---------------------------------------------------------------------------------------------
# Any other prompt: short plain text
# ---------------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """about above after again also answer assistant based because been before being below
    between both could does doing during each from further have having here into just like
    make more most only other over prompt question query reply request respond response same
    should some such than that their them then there these they this those through under until
    user very what when where which while will with within without would write your yours
    generate create compose following given brief short sentence sentences plain text words
    only return realistic persona topic style""".split()  # noqa: SIM905 - a word list reads better
)
_ASKS_FOR_QUERY = re.compile(r"\b(user (query|question|message)|write .{0,40}question)\b", re.I)


# ---------------------------------------------------------------------------------------------
# llm_judge answers
# ---------------------------------------------------------------------------------------------

# What generate.request.judge_instructions appends to a judge column's prompt.
_JUDGE_MARK = "Score the above on each criterion."
_CRITERION_RE = re.compile(r"^- ([A-Za-z_][\w-]*): (.*?) ?Options: (.*)$", re.MULTILINE)
# Most synthetic rows are fine; some are weak: the share of each score, worst to best.
_SCORE_WEIGHTS = (0.04, 0.08, 0.16, 0.36, 0.36)
_REASON_OPENERS = ("Judged against the seed facts:", "Reading the whole conversation:",
                   "Compared with the tool result and the policy hint:", "Overall:")


def judge_reply(rng: random.Random, prompt: str) -> Reply | None:
    """Scores for every criterion a judge prompt lists, or None for any other prompt."""
    at = prompt.find(_JUDGE_MARK)
    criteria = _CRITERION_RE.findall(prompt, at) if at >= 0 else []
    if not criteria:
        return None
    answer: dict[str, Any] = {}
    missing = _judged_misses(prompt[:at])
    for name, _description, options in criteria:
        levels = [part.partition(":") for part in options.split("; ") if part.strip()]
        keys = [key.strip() for key, _, _ in levels]
        numeric = all(_is_number(k) for k in keys)
        if numeric:
            keys.sort(key=float)
        # A criterion the judged text visibly misses scores in the lower half of its options.
        miss = [what for topic, what in missing if topic in name.lower()]
        if miss and len(keys) > 1:
            keys = keys[:len(keys) // 2]
        # The weights' best end meets the best option; fewer options take the top weights.
        weights = _SCORE_WEIGHTS[-len(keys):] if len(keys) <= len(_SCORE_WEIGHTS) else None
        key = rng.choices(keys, weights=weights)[0]
        meaning = next((m.strip() for k, _, m in levels if k.strip() == key), "")
        answer[name] = {
            "score": (int(float(key)) if float(key).is_integer() else float(key)) if numeric
            else key,
            "reasoning": f"{rng.choice(_REASON_OPENERS)} {name.replace('_', ' ')} earns "
                         f"{key}: {_sentence(meaning) if meaning else 'as described.'}"
                         + "".join(f" It {what}." for what in miss),
        }
    return Reply(None, json.dumps(answer), "Each criterion scored against its options.")


def _judged_misses(judged: str) -> list[tuple[str, str]]:
    """(criterion topic, what the judged text misses) against the prompt's seed facts: the
    order id or most of the policy hint's words absent (grounding), no tool call (tool use)."""
    facts = parse_facts(judged)
    text = _FACT_RE.sub("", judged)  # the judged conversation, without the fact lines
    lowered = text.lower()
    out = []
    order_id = facts.values.get("order_id")
    if order_id and order_id not in text:
        out.append(("ground", f"never mentions the order {order_id}"))
    hint = [w.lower() for w in _WORD_RE.findall(facts.values.get("policy_hint", ""))]
    if hint and sum(w in lowered for w in hint) * 2 < len(hint):
        out.append(("ground", "does not reflect the policy hint"))
    if "tool_calls" not in text:
        out.append(("tool", "makes no tool call"))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _keywords(rng: random.Random, prompt: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD_RE.findall(prompt):
        lowered = word.lower().strip("'-")
        if lowered not in _STOPWORDS and len(lowered) > 3:
            seen.setdefault(lowered, None)
    words = list(seen)
    if not words:
        return ["this", "topic", "it"]
    picked = sorted(rng.sample(range(len(words)), min(3, len(words))))
    chosen = [words[i] for i in picked]
    while len(chosen) < 3:
        chosen.append(chosen[-1])
    return chosen


def _plain_reply(rng: random.Random, prompt: str) -> Reply:
    a, b, c = _keywords(rng, prompt)
    if _ASKS_FOR_QUERY.search(prompt):
        text = rng.choice(
            [
                f"I'm trying to understand {a} better. How does {b} affect it, and what should I "
                f"watch out for with {c}?",
                f"Can you explain how {a} and {b} relate? I keep running into {c} and I'm not sure "
                "what to do.",
                f"What is a practical way to get started with {a} if I also care about {b} "
                f"and {c}?",
            ]
        )
    else:
        text = rng.choice(
            [
                f"Good question. The key to {a} is to start small: check how {b} behaves first, "
                f"then adjust for {c}. That keeps the result predictable.",
                f"In short, {a} depends mostly on {b}. Once that is settled, {c} is usually a "
                "matter of fine tuning, so begin there and iterate.",
                f"Here is the short version: focus on {a}, keep {b} consistent, and revisit {c} "
                "only when the basics work.",
            ]
        )
    return Reply(None, text, f"The prompt is about {a}, {b} and {c}. A brief plain answer fits.")
