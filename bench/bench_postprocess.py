"""Benchmark project + validate on N synthetic customer-support records (default 200,000).

Synthesises generation shards (`gen/shard-<k>.parquet`, the columns of docs/formats.md) with
varied conversations: mostly clean objects, some fenced / with preamble / with a trailing comma /
already-escaped arguments, and a few defects (truncated, failed calls, ungrounded answers,
markdown). Each stage runs in its own child process so its peak RSS is measured alone.

    python bench/bench_postprocess.py [--records 200000] [--shard-size 2000] [--keep DIR]
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


def synthesise(gen: Path, records: int, shard_size: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    gen.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for k, start in enumerate(range(0, records, shard_size)):
        rows = [synth_record(i, rng) for i in range(start, min(start + shard_size, records))]
        pq.write_table(pa.Table.from_pylist(rows), gen / f"shard-{k}.parquet")


def projection():
    from sdgflow.project.config import StructuredMessagesProjection

    return StructuredMessagesProjection(
        type="structured_messages", source_field="conversation",
        metadata_fields=["customer_name", "issue", "order_id", "product", "urgency", "channel"])


def run_stage(stage: str, work: Path, records: int, shard_size: int) -> dict:
    # Imports first: the figures are for processing records, not for starting Python.
    import pyarrow.parquet  # noqa: F401

    import sdgflow.project.run
    import sdgflow.validate.run  # noqa: F401

    t0 = time.perf_counter()
    if stage == "synthesise":
        synthesise(work / "gen", records, shard_size)
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

        report = validate_file(work / "projected.jsonl", ValidationConfig(), projection(),
                               work / "sft.jsonl", work / "sft.rejects.jsonl",
                               work / "sft.validation.json", work / "projection_rejects.jsonl")
        n = report.records_in
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"stage": stage, "records": n, "seconds": seconds, "rss_mb": rss_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--shard-size", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: a temp dir)")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:  # child process: one stage, result as JSON on stdout
        print(json.dumps(run_stage(args.stage, args.work, args.records, args.shard_size)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = []
        for stage in ("synthesise", "project", "validate"):
            out = subprocess.run(
                [sys.executable, __file__, "--stage", stage, "--work", str(work),
                 "--records", str(args.records), "--shard-size", str(args.shard_size)],
                check=True, capture_output=True, text=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        report = json.loads((work / "sft.validation.json").read_text())
    print(f"{'stage':<11} {'records':>9} {'seconds':>8} {'records/s':>10} {'peak RSS MB':>12}")
    for r in results:
        print(f"{r['stage']:<11} {r['records']:>9} {r['seconds']:>8.2f} "
              f"{r['records'] / r['seconds']:>10,.0f} {r['rss_mb']:>12.1f}")
    both = results[1]["seconds"] + results[2]["seconds"]
    print(f"{'project+validate':<16} {results[1]['records'] / both:>24,.0f} records/s end to end")
    failed = {k: v["failed"] for k, v in report["checks"].items() if v["failed"]}
    print(f"valid {report['valid']} / {report['records_in'] + report['projection_rejects']} "
          f"(pass rate {report['pass_rate']:.1%}); failures: {failed}; repairs: "
          f"{report['repairs']}")


if __name__ == "__main__":
    main()
