"""Benchmark project + validate on N synthetic records (default 200,000) of two corpora.

Synthesises generation shards (`gen/shard-<k>.parquet`, the columns of docs/formats.md), seeded:
- simulator: the simulator's customer-support rows, one tool set and one system prompt; mostly
  clean objects, some fenced / with preamble / with a trailing comma / already-escaped
  arguments, and a few defects (truncated, failed calls, ungrounded answers, markdown);
- varied: six domains' tool sets (3-6 tools offered a row, with descriptions and typed / enum
  parameters), a system prompt of its own per row, arguments and tool results as (nested)
  objects, 0-1 extra turns, some answers fenced or after a preamble sentence.
Each stage runs in its own child process so its peak RSS is measured alone; the same table is
printed for each corpus. Validate runs twice, with and without dedupe.near_duplicate (MinHash
over word shingles): the last line gives the near-duplicate index's time and memory.

    python bench/bench_postprocess.py [--records 200000] [--shard-size 2000]
        [--corpus simulator|varied|both] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOOLS = {
    "lookup_order": ("Look up an order by ID.", ["order_id"]),
    "check_refund_eligibility": ("Check whether an order qualifies for a refund.",
                                 ["order_id", "reason"]),
    "update_shipping_address": ("Change the shipping address of an order.",
                                ["order_id", "new_address"]),
    "verify_warranty": ("Verify the warranty of a product on an order.", ["order_id", "product"]),
    "get_subscription_status": ("Get the status of a subscription order.", ["order_id"]),
}
NAMES = ["Priya Raman", "Marcus Bell", "Yuki Tanaka", "Ana Silva", "Liam O'Brien", "Fatima Khan",
         "Chen Wei", "Olga Petrova", "Kwame Mensah", "Sara Rossi", "José Álvarez", "Noor Haddad"]
PRODUCTS = ["Aurora ANC wireless headphones", "TrailLite 2-person tent", "BrewMaster espresso "
            "machine", "Stride running shoes", "Vista 4K monitor", "PureAir purifier",
            "RoboClean vacuum", "Nest-style thermostat", "FlexFit yoga mat", "ErgoPro chair"]
ISSUES = ["my package is late and tracking hasn't moved", "it arrived damaged and I want a refund",
          "I moved and need to change the delivery address", "it stopped working after a month",
          "I was charged twice for my subscription", "the wrong color was delivered"]
POLICIES = [
    "Orders delayed more than 2 business days past the estimate qualify for free expedited "
    "reshipping.",
    "Refunds are available within 30 days of delivery for unused or damaged items.",
    "Address changes are possible until the order ships from the warehouse.",
    "Warranty covers manufacturing defects for 12 months from delivery.",
    "Subscriptions can be cancelled any time before the renewal date for a prorated refund.",
]
STATUSES = ["delayed", "in_transit", "delivered", "processing", "out_for_delivery", "on_hold"]
CARRIERS = ["UPS", "FedEx", "DHL", "USPS"]
OPENERS = ["Hi, {issue}.", "Hello! So basically {issue}, can you help?",
           "{issue}. This is really frustrating.", "Hey there, {issue}. What can you do?"]
FILLER = ["I have been a customer for years.", "I need this sorted out before the weekend.",
          "The app did not show anything useful.", "I already tried the help center articles."]


def _tool_def(name: str) -> dict:
    desc, params = TOOLS[name]
    return {"type": "function", "function": {
        "name": name, "description": desc,
        "parameters": {"type": "object", "properties": {p: {"type": "string"} for p in params},
                       "required": params}}}


def synth_record(i: int, rng: random.Random) -> dict:
    name, product = rng.choice(NAMES), rng.choice(PRODUCTS)
    issue, policy = rng.choice(ISSUES), rng.choice(POLICIES)
    order_id = f"ORD-{rng.randint(10000, 99999)}"
    tool = rng.choice(list(TOOLS))
    args = {"order_id": order_id}
    if "reason" in TOOLS[tool][1]:
        args["reason"] = issue
    if "new_address" in TOOLS[tool][1]:
        args["new_address"] = f"{rng.randint(1, 999)} Maple Street, Austin, TX"
    if "product" in TOOLS[tool][1]:
        args["product"] = product
    status = rng.choice(STATUSES)
    amount = round(rng.uniform(10, 500), 2)
    result = {"order_id": order_id, "status": status, "carrier": rng.choice(CARRIERS),
              "eta": f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}", "amount": amount}
    final = (f"Thanks for waiting, {name.split()[0]}. Your {product} order is "
             f"{status.replace('_', ' ')} with {result['carrier']}, and the total was "
             f"${amount:.2f}. {policy} {rng.choice(FILLER)}")
    call_id = f"call_{rng.randint(1, 999):03d}"
    messages = [
        {"role": "system", "content": "You are a friendly ecommerce support agent. Be concise."},
        {"role": "user", "content": rng.choice(OPENERS).format(issue=issue) + " "
         + rng.choice(FILLER)},
        {"role": "assistant", "content": "I'm sorry to hear that. Could you share your order "
         "number so I can look into it?"},
        {"role": "user", "content": f"Sure, it's {order_id}. {rng.choice(FILLER)}"},
        {"role": "assistant", "content": "", "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": tool, "arguments": args}}]},
        {"role": "tool", "tool_call_id": call_id, "name": tool, "content": result},
        {"role": "assistant", "content": final},
    ]
    if rng.random() < 0.3:
        messages.insert(4, {"role": "assistant", "content": "Thanks. Is that the order for the "
                            f"{product}?"})
        messages.insert(5, {"role": "user", "content": "Yes, that one."})
    tools = [_tool_def(tool)] + [_tool_def(t) for t in rng.sample(list(TOOLS), 2) if t != tool]
    conv = {"tools": tools, "messages": messages}
    roll = rng.random()
    finish, error = "stop", None
    if roll < 0.02:  # defect: final answer ignores the tool result
        messages[-1]["content"] = f"Thanks {name}, we will look into it. {policy}"
    elif roll < 0.03:  # defect: markdown
        messages[-1]["content"] = "**Update:** " + final
    elif roll < 0.06:  # already-escaped arguments and tool content
        call = messages[-3]["tool_calls"][0]["function"]
        call["arguments"] = json.dumps(call["arguments"])
        messages[-2]["content"] = json.dumps(result)
    text = json.dumps(conv, ensure_ascii=False, indent=rng.choice([None, 2]))
    if 0.06 <= roll < 0.09:
        text = "```json\n" + text + "\n```"
    elif 0.09 <= roll < 0.11:
        text = "Here is the conversation you asked for:\n" + text + "\nLet me know!"
    elif 0.11 <= roll < 0.12:
        text = text[:-1].rstrip() + ",}"  # trailing comma
    elif 0.12 <= roll < 0.13:
        text, finish = text[: len(text) * 2 // 3], "length"
    elif 0.13 <= roll < 0.14:
        text, finish, error = None, None, "APIConnectionError: connection reset after 6 retries"
    return {
        "record_id": i, "customer_name": name, "issue": issue, "order_id": order_id,
        "product": product, "policy_hint": policy, "urgency": rng.choice(["calm", "rushed"]),
        "channel": rng.choice(["web_chat", "mobile_app", "email_followup"]),
        "conversation": text, "conversation__reasoning": None,
        "conversation__finish_reason": finish, "conversation__error": error,
        "conversation__attempts": 1, "conversation__prompt_tokens": 900,
        "conversation__completion_tokens": 700, "conversation__latency_s": 3.2,
        "conversation__from_store": False, "conversation__model": "openai/gpt-oss-20b",
        "conversation__provider": "nvidia", "generated_offline": False,
    }


# --- The varied corpus: not the simulator's ------------------------------------------------
# Six domains, each with its own tools (descriptions, typed and enum parameters); a row offers
# 3-6 of them, gets a system prompt of its own, objects for arguments and tool results (nested
# ones too), 0-1 turns of small talk, and some answers fenced or after a preamble sentence.

def _p(kind: str, desc: str, enum: list | None = None) -> dict:
    out = {"type": kind, "description": desc}
    if enum:
        out["enum"] = enum
    return out


DOMAINS = {
    "travel": {
        "search_flights": ("Search flights between two airports on a date.",
                           {"origin": _p("string", "IATA code"),
                            "destination": _p("string", "IATA code"),
                            "date": _p("string", "YYYY-MM-DD"),
                            "passengers": _p("integer", "number of travellers")}),
        "get_booking": ("Fetch a booking by its reference.",
                        {"order_id": _p("string", "booking reference")}),
        "change_seat": ("Move a passenger to another seat.",
                        {"order_id": _p("string", "booking reference"),
                         "seat": _p("string", "row and letter, e.g. 14C")}),
        "baggage_allowance": ("Baggage allowance for a fare class.",
                              {"fare_class": _p("string", "fare", ["basic", "standard", "flex"])}),
        "hotel_availability": ("Rooms free in a city for a stay.",
                               {"city": _p("string", "city"), "nights": _p("integer", "nights")}),
        "cancel_booking": ("Cancel a booking, with or without a refund.",
                           {"order_id": _p("string", "booking reference"),
                            "refund": _p("boolean", "refund to the card")}),
    },
    "banking": {
        "get_account": ("Balance and status of an account.",
                        {"order_id": _p("string", "account number")}),
        "list_transactions": ("Recent transactions of an account.",
                              {"order_id": _p("string", "account number"),
                               "days": _p("integer", "how many days back")}),
        "freeze_card": ("Freeze a payment card at once.",
                        {"order_id": _p("string", "account number"),
                         "reason": _p("string", "why", ["lost", "stolen", "fraud"])}),
        "dispute_charge": ("Open a dispute on a card charge.",
                           {"order_id": _p("string", "account number"),
                            "amount": _p("number", "amount disputed")}),
        "exchange_rate": ("Exchange rate between two currencies.",
                          {"base": _p("string", "ISO code"), "quote": _p("string", "ISO code")}),
    },
    "calendar": {
        "find_slots": ("Free meeting slots for some people.",
                       {"attendees": _p("array", "emails"), "minutes": _p("integer", "length")}),
        "create_event": ("Create a calendar event.",
                         {"title": _p("string", "title"), "start": _p("string", "ISO time"),
                          "order_id": _p("string", "calendar id")}),
        "get_event": ("Look up an event by id.", {"order_id": _p("string", "event id")}),
        "reschedule_event": ("Move an event to another time.",
                             {"order_id": _p("string", "event id"),
                              "start": _p("string", "ISO time")}),
        "set_reminder": ("Set a reminder before an event.",
                         {"order_id": _p("string", "event id"),
                          "minutes_before": _p("integer", "minutes")}),
    },
    "devops": {
        "get_deployment": ("Status of a deployment.", {"order_id": _p("string", "deploy id")}),
        "rollback": ("Roll a service back to a release.",
                     {"order_id": _p("string", "deploy id"),
                      "release": _p("string", "release tag")}),
        "query_metrics": ("Query a metric over a window.",
                          {"metric": _p("string", "metric name"),
                           "window": _p("string", "window", ["5m", "1h", "24h"])}),
        "page_oncall": ("Page the on-call engineer.",
                        {"team": _p("string", "team"), "urgent": _p("boolean", "urgent")}),
        "tail_logs": ("Last log lines of a service.",
                      {"service": _p("string", "service"), "lines": _p("integer", "lines")}),
        "scale_service": ("Scale a service to a replica count.",
                          {"service": _p("string", "service"),
                           "replicas": _p("integer", "replicas")}),
    },
    "health": {
        "get_appointment": ("Look up an appointment.",
                            {"order_id": _p("string", "appointment id")}),
        "book_appointment": ("Book an appointment with a clinician.",
                             {"specialty": _p("string", "specialty"),
                              "date": _p("string", "YYYY-MM-DD")}),
        "refill_prescription": ("Request a prescription refill.",
                                {"order_id": _p("string", "prescription id"),
                                 "pharmacy": _p("string", "pharmacy")}),
        "insurance_coverage": ("Whether a procedure is covered.",
                               {"procedure": _p("string", "procedure"),
                                "plan": _p("string", "plan", ["bronze", "silver", "gold"])}),
    },
    "home": {
        "get_device": ("State of a smart-home device.", {"order_id": _p("string", "device id")}),
        "set_thermostat": ("Set a target temperature.",
                           {"order_id": _p("string", "device id"),
                            "celsius": _p("number", "target")}),
        "energy_report": ("Energy use over a period.",
                          {"order_id": _p("string", "meter id"),
                           "period": _p("string", "period", ["day", "week", "month"])}),
        "lock_door": ("Lock or unlock a door.",
                      {"order_id": _p("string", "lock id"), "locked": _p("boolean", "lock")}),
        "schedule_repair": ("Book a technician visit.",
                            {"order_id": _p("string", "device id"),
                             "date": _p("string", "YYYY-MM-DD")}),
    },
}
PREFIXES = {"travel": "BK", "banking": "AC", "calendar": "EV", "devops": "DP", "health": "AP",
            "home": "DV"}
PERSONAS = ["You are {bot}, an assistant for {org}.", "Act as the {domain} helpdesk of {org}.",
            "You answer {domain} questions for {org} customers; your name is {bot}.",
            "{org} support ({domain}). Assistant name: {bot}."]
RULES = ["Use the tools before answering questions about accounts.", "Never guess identifiers.",
         "Answer in at most three sentences.", "Confirm the reference number before acting.",
         "Speak plainly, without lists or formatting.", "Today is 2026-{m:02d}-{d:02d}.",
         "The customer tier is {tier}.", "Escalate anything about safety to a human.",
         "Reply in the customer's language.", "Keep personal data out of the answer."]
ORGS = ["Northwind", "Globex", "Initech", "Umbrella Health", "Skyward Air", "Hooli Home",
        "Acme Bank", "Stark Cloud", "Wayne Travel", "Cyberdyne Calendar"]
BOTS = ["Ada", "Max", "Iris", "Theo", "Nova", "Ravi", "Lena", "Kofi"]
ASKS = ["Can you check {ref} for me?", "Something is off with {ref}, what is going on?",
        "I need help with {ref} please.", "Quick one: {ref}, status?",
        "My reference is {ref}. I'd like to sort this out today.",
        "Hola, necesito ayuda con {ref}, ¿qué pasó?", "Bonjour, pouvez-vous vérifier {ref} ?"]
CHAT = [("Is this urgent for you?", "Fairly, yes."),
        ("Would you like me to email you a summary afterwards?", "No thanks, chat is fine."),
        ("Do you have the reference handy?", "Yes, it's the one I gave."),
        ("Shall I also check related items?", "Just this one for now.")]
WORDS = ["alpha", "delta", "pending", "active", "closed", "queued", "north", "ember", "quartz",
         "harbor", "maple", "cobalt", "ridge", "lumen", "orbit", "saffron"]


def _value(p: dict, rng: random.Random, ref: str, name: str):
    if name == "order_id":
        return ref
    if "enum" in p:
        return rng.choice(p["enum"])
    kind = p["type"]
    if kind == "integer":
        return rng.randint(1, 90)
    if kind == "number":
        return round(rng.uniform(1, 900), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [f"{rng.choice(WORDS)}@example.com" for _ in range(rng.randint(1, 3))]
    return f"{rng.choice(WORDS)}-{rng.randint(1, 99)}"


def _result(rng: random.Random, ref: str) -> dict:
    out = {"id": ref, "status": rng.choice(WORDS), "updated": f"2026-{rng.randint(1, 12):02d}-"
           f"{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"}
    for _ in range(rng.randint(1, 5)):
        roll = rng.random()
        key = rng.choice(WORDS) + "_" + rng.choice(["count", "note", "total", "items", "meta"])
        if roll < 0.3:
            out[key] = round(rng.uniform(0, 5000), 2)
        elif roll < 0.6:
            out[key] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
        elif roll < 0.8:
            out[key] = [{"name": rng.choice(WORDS), "qty": rng.randint(1, 9)}
                        for _ in range(rng.randint(1, 3))]
        else:
            out[key] = {"flag": rng.random() < 0.5, "level": rng.randint(0, 3), "note": None}
    return out


def varied_record(i: int, rng: random.Random) -> dict:
    domain = rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    offered = rng.sample(list(tools), rng.randint(3, min(6, len(tools))))
    ref = f"{PREFIXES[domain]}-{rng.randint(100000, 999999)}"
    org, bot = rng.choice(ORGS), rng.choice(BOTS)
    rules = [r.format(m=rng.randint(1, 12), d=rng.randint(1, 28), tier=rng.choice(WORDS))
             for r in rng.sample(RULES, rng.randint(1, 4))]
    system = " ".join([rng.choice(PERSONAS).format(bot=bot, org=org, domain=domain), *rules])
    using = [t for t in offered if "order_id" in tools[t][1]] or offered
    tool = rng.choice(using)
    args = {k: _value(p, rng, ref, k) for k, p in tools[tool][1].items()}
    result = _result(rng, ref)
    cited = [v for v in result.values() if isinstance(v, (str, float))][:2]
    policy = f"{org} resolves {domain} requests within {rng.randint(1, 5)} business days."
    final = (f"I checked {ref}: the status is {result['status']}"
             + "".join(f", and {v}" for v in cited[1:]) + f". {policy} "
             + rng.choice(["Anything else?", "Have a good day.", "Glad to help.", ""]))
    call_id = f"{rng.choice(['call', 'tc', 'fc'])}_{rng.getrandbits(32):08x}"
    messages = [{"role": "system", "content": system},
                {"role": "user", "content": rng.choice(ASKS).format(ref=ref)},
                {"role": "assistant", "content": rng.choice(
                    [f"Sure, just to confirm, is it {ref}?", "Happy to help. Which one do you "
                     "mean exactly, the latest?", f"Of course, {bot} here. Is {ref} correct?"])},
                {"role": "user", "content": rng.choice(["Yes.", "Yes, that's right.",
                                                        "Correct, go ahead."])}]
    for ask, reply in rng.sample(CHAT, rng.randint(0, 1)):
        messages += [{"role": "assistant", "content": ask}, {"role": "user", "content": reply}]
    messages += [
        {"role": "assistant", "content": rng.choice(["", None, "Let me check that."]),
         "tool_calls": [{"id": call_id, "type": "function",
                         "function": {"name": tool, "arguments": args}}]},
        {"role": "tool", "tool_call_id": call_id, "content": result},
        {"role": "assistant", "content": final.strip()},
    ]
    tool_defs = [{"type": "function", "function": {
        "name": t, "description": tools[t][0],
        "parameters": {"type": "object", "properties": tools[t][1],
                       "required": list(tools[t][1])[:1]}}} for t in offered]
    text = json.dumps({"messages": messages, "tools": tool_defs} if rng.random() < 0.5 else
                      {"tools": tool_defs, "messages": messages},
                      ensure_ascii=rng.random() < 0.3, indent=rng.choice([None, None, 1, 2]))
    roll = rng.random()
    if roll < 0.1:
        text = "```json\n" + text + "\n```"
    elif roll < 0.18:
        text = rng.choice(["Here is the conversation:\n", "Sure! Below is the dialogue.\n\n",
                           "Generated sample:\n```json\n"]) + text + (
                               "\n```" if roll >= 0.16 else "")
    return {
        "record_id": i, "customer_name": bot, "issue": domain, "order_id": ref,
        "product": tool, "policy_hint": policy, "urgency": rng.choice(["calm", "rushed"]),
        "channel": rng.choice(["web_chat", "mobile_app", "email_followup"]),
        "conversation": text, "conversation__reasoning": None,
        "conversation__finish_reason": "stop", "conversation__error": None,
        "conversation__attempts": 1, "conversation__prompt_tokens": 1100,
        "conversation__completion_tokens": 800, "conversation__latency_s": 4.1,
        "conversation__from_store": False, "conversation__model": "openai/gpt-oss-20b",
        "conversation__provider": "nvidia", "generated_offline": False,
    }


CORPORA = {"simulator": synth_record, "varied": varied_record}


def synthesise(gen: Path, records: int, shard_size: int, corpus: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    gen.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for k, start in enumerate(range(0, records, shard_size)):
        rows = [CORPORA[corpus](i, rng) for i in range(start, min(start + shard_size, records))]
        pq.write_table(pa.Table.from_pylist(rows), gen / f"shard-{k}.parquet")


def projection():
    from sdgflow.project.config import StructuredMessagesProjection

    return StructuredMessagesProjection(
        type="structured_messages", source_field="conversation",
        metadata_fields=["customer_name", "issue", "order_id", "product", "urgency", "channel"])


def run_stage(stage: str, work: Path, records: int, shard_size: int, corpus: str) -> dict:
    # Imports first: the figures are for processing records, not for starting Python.
    import pyarrow.parquet  # noqa: F401

    import sdgflow.project.run
    import sdgflow.validate.run  # noqa: F401

    t0 = time.perf_counter()
    if stage == "synthesise":
        synthesise(work / "gen", records, shard_size, corpus)
        n = records
    elif stage == "project":
        from sdgflow.project.run import iter_records, project_records, projection_columns

        proj = projection()
        summary = project_records(iter_records(work / "gen", projection_columns(work / "gen",
                                                                                proj)),
                                  proj, work / "projected.jsonl", work / "projection_rejects.jsonl")
        n = summary.records
    else:
        from sdgflow.validate.config import ValidationConfig
        from sdgflow.validate.run import validate_file

        # No gate: a bench measures speed, whatever the pass rate. `validate-no-near` runs
        # without dedupe.near_duplicate: the difference is what the near-duplicate index costs.
        near = {"dedupe.near_duplicate": "off"} if stage == "validate-no-near" else {}
        name = "sft-no-near" if near else "sft"
        report = validate_file(work / "projected.jsonl",
                               ValidationConfig(min_pass_rate=0.0, checks=near), projection(),
                               work / f"{name}.jsonl", work / f"{name}.rejects.jsonl",
                               work / f"{name}.validation.json", work / "projection_rejects.jsonl")
        n = report.records_in
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"stage": stage, "records": n, "seconds": seconds, "rss_mb": rss_mb}


def bench(corpus: str, work: Path, args: argparse.Namespace) -> None:
    results = []
    for stage in ("synthesise", "project", "validate", "validate-no-near"):
        out = subprocess.run(
            [sys.executable, __file__, "--stage", stage, "--work", str(work), "--corpus", corpus,
             "--records", str(args.records), "--shard-size", str(args.shard_size)],
            check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    report = json.loads((work / "sft.validation.json").read_text())
    print(f"corpus: {corpus}")
    print(f"{'stage':<16} {'records':>9} {'seconds':>8} {'records/s':>10} {'peak RSS MB':>12}")
    for r in results:
        print(f"{r['stage']:<16} {r['records']:>9} {r['seconds']:>8.2f} "
              f"{r['records'] / r['seconds']:>10,.0f} {r['rss_mb']:>12.1f}")
    both = results[1]["seconds"] + results[2]["seconds"]
    print(f"{'project+validate':<16} {results[1]['records'] / both:>24,.0f} records/s end to end")
    failed = {k: v["failed"] for k, v in report["checks"].items() if v["failed"]}
    print(f"valid {report['valid']} / {report['records_in'] + report['projection_rejects']} "
          f"(pass rate {report['pass_rate']:.1%}); failures: {failed}; repairs: "
          f"{report['repairs']}")
    near, plain = results[2], results[3]
    print(f"near-duplicate check: {report.get('near_duplicates', 0)} rows flagged; costs "
          f"{near['seconds'] - plain['seconds']:.2f} s "
          f"({(near['seconds'] - plain['seconds']) / near['records'] * 1e6:.0f} us a row) and "
          f"{near['rss_mb'] - plain['rss_mb']:+.1f} MB of peak RSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--shard-size", type=int, default=2000)
    parser.add_argument("--corpus", choices=["simulator", "varied", "both"], default="both",
                        help="the simulator's customer-support rows, the varied ones, or both")
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: a temp dir;"
                        " with --corpus both, one subdirectory per corpus)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:  # child process: one stage, result as JSON on stdout
        print(json.dumps(run_stage(args.stage, args.work, args.records, args.shard_size,
                                   args.corpus)))
        return
    corpora = ["simulator", "varied"] if args.corpus == "both" else [args.corpus]
    with tempfile.TemporaryDirectory() as tmp:
        for n, corpus in enumerate(corpora):
            work = (args.keep or Path(tmp)) / corpus
            work.mkdir(parents=True, exist_ok=True)
            if n:
                print()
            bench(corpus, work, args)


if __name__ == "__main__":
    main()
