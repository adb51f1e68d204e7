"""Benchmark the pack stage: 200k synthetic customer-support conversations, or real ones.

By default generates realistic tool-calling SFT records (system prompt, 6-10 messages, exactly
one tool call with its result, varied lengths ~1000 tokens rendered), writes JSONL, runs
`pack_file` (dry run: render + tokenize + pack) and prints a table.

`--input PATH` packs an existing JSONL instead (e.g. the validated output of the pipeline,
whose lengths differ from the synthetic ones); with `--resample N` it first builds an N-record
JSONL by sampling PATH's lines with replacement (seeded by `--seed`, so the same file every
run), to bench the real length distribution at scale.

    python bench/bench_pack.py [--records 200000] [--tokenizer o200k_harmony] [--workers N]
    python bench/bench_pack.py --input out.jsonl [--resample 200000] [--seed 1234]
    python bench/bench_pack.py --from-pipeline 4000 [--resample 200000]

`--from-pipeline N` first runs the pipeline itself (offline provider, N records, in a scratch
copy of the project) and packs its validated output: the length distribution the product
actually hands a trainer (resampled to `--resample`, default 200,000, records).

`--lp-bound` also solves the Gilmore-Gomory configuration LP (column generation, needs scipy:
a bench-only dependency; tens of seconds) for a bound no packing can beat, to check how far
the report's tight bound is from the best fractional packing.
"""

from __future__ import annotations

import argparse
import atexit
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from sdgflow.pack.config import PackingConfig
from sdgflow.pack.run import pack_file, tokenize_file

TOOLS = [
    ("lookup_order", "Look up an order by ID and return its status, items and shipping ETA.",
     {"order_id": "The order identifier, e.g. ORD-10492."}),
    ("check_refund_eligibility", "Check whether an order is eligible for a refund.",
     {"order_id": "The order identifier.", "reason": "Why the customer wants a refund."}),
    ("update_shipping_address", "Change the shipping address of an order not yet shipped.",
     {"order_id": "The order identifier.", "new_address": "The full new postal address."}),
    ("verify_warranty", "Verify the warranty coverage of a product on an order.",
     {"order_id": "The order identifier.", "product": "Product name as listed on the order."}),
    ("get_subscription_status", "Get the subscription plan and renewal status for an order.",
     {"order_id": "The order identifier."}),
]
TOOL_DEFS = [
    {"type": "function", "function": {
        "name": n, "description": d,
        "parameters": {"type": "object",
                       "properties": {k: {"type": "string", "description": v}
                                      for k, v in p.items()},
                       "required": list(p)}}}
    for n, d, p in TOOLS
]
NAMES = ["Maria Lopez", "Jamal Carter", "Priya Nair", "Tom Becker", "Yuki Tanaka", "Ana Silva",
         "Liam O'Brien", "Fatima Khan", "Chen Wei", "Olga Petrova", "Kwame Mensah", "Sara Rossi"]
PRODUCTS = ["wireless earbuds", "standing desk", "espresso machine", "running shoes",
            "4K monitor", "air purifier", "robot vacuum", "smart thermostat", "yoga mat",
            "noise-cancelling headphones", "blender", "electric kettle", "office chair"]
ISSUES = ["my package is late", "I want to return it because it arrived damaged",
          "I moved and need to change the delivery address",
          "it stopped working after two months", "I was charged twice for my subscription",
          "the wrong color was delivered", "the tracking page has not updated in days",
          "I never received a confirmation email"]
POLICIES = ["Refunds are available within 30 days of delivery for unused or damaged items.",
            "Address changes are possible until the order ships.",
            "Warranty covers manufacturing defects for 12 months from delivery.",
            "Delayed orders over 5 business days qualify for a shipping credit.",
            "Subscriptions can be cancelled any time before the renewal date."]
FILLER = [
    "I have been a customer for years and this is the first time something like this happened.",
    "Honestly I am a bit frustrated because I needed it for a trip this weekend.",
    "I checked the tracking page twice today and it still says the same thing.",
    "My neighbor said a courier came by but nothing was left at the door.",
    "I already tried restarting it and following the quick start guide.",
    "Could you also tell me whether I will be charged again next month?",
    "I am writing from the mobile app so sorry for any typos.",
    "The box looked fine from the outside but the item inside was scratched.",
    "I would prefer a replacement over a refund if that is possible.",
    "Please let me know what information you need from me to sort this out quickly.",
]
AGENT = [
    "I am sorry about the trouble and I will look into this for you right away.",
    "Thanks for your patience while I check the details on our side.",
    "I understand how inconvenient this is, especially with your plans this weekend.",
    "Let me make sure I have the right order before I take any action.",
    "Once I confirm the status I can walk you through the available options.",
    "I will also add a note to your account so the next agent sees the full history.",
]


def conversation(r: random.Random, i: int) -> dict:
    name, product, issue = r.choice(NAMES), r.choice(PRODUCTS), r.choice(ISSUES)
    policy = r.choice(POLICIES)
    order_id = f"ORD-{r.randint(10000, 99999)}"
    tool, _, params = TOOLS[r.randrange(len(TOOLS))]
    args = {"order_id": order_id}
    if "reason" in params:
        args["reason"] = issue
    if "new_address" in params:
        args["new_address"] = (f"{r.randint(1, 999)} Maple Street, Springfield, "
                               f"IL 6270{r.randint(0, 9)}")
    if "product" in params:
        args["product"] = product

    def fill(pool, lo, hi):
        return " ".join(r.sample(pool, r.randint(lo, min(hi, len(pool)))))

    result = {"order_id": order_id, "status": r.choice(["delayed", "delivered", "processing",
                                                        "shipped", "active"]),
              "product": product, "eta": f"2025-0{r.randint(1, 9)}-{r.randint(10, 28)}",
              "carrier": r.choice(["UPS", "FedEx", "DHL", "USPS"]),
              "history": [{"date": f"2025-05-{d:02d}", "event": r.choice(
                  ["label created", "in transit", "arrived at hub", "out for delivery",
                   "exception: address issue", "payment captured"])}
                  for d in range(1, r.randint(2, 12))]}
    call_id = f"call_{tool}_{i:06d}"
    first = name.split()[0]
    system = {"role": "system", "content": "You are a friendly, precise customer-support agent "
              "for an online store. Verify the order before acting, use tools for facts, never "
              "invent order details, and follow store policy. " + fill(AGENT, 0, 2)
              + f" Policy hint: {policy}"}
    opening = {"role": "user", "content": f"Hi, this is {name}. I bought a {product} and "
               f"{issue}. " + fill(FILLER, 0, 6)}
    clarify = {"role": "assistant", "content": fill(AGENT, 1, 4) + " Could you share your "
               "order number and the email address used at checkout?"}
    answer = {"role": "user", "content": f"Sure, I think it is {order_id}, it should be under "
              f"{first.lower()}@example.com. " + fill(FILLER, 0, 5)}
    call = {"role": "assistant", "content": "", "tool_calls": [{
        "id": call_id, "type": "function",
        "function": {"name": tool, "arguments": orjson.dumps(args).decode()}}]}
    result_msg = {"role": "tool", "tool_call_id": call_id, "name": tool,
                  "content": orjson.dumps(result).decode()}
    final = {"role": "assistant", "content": f"Thanks {first}, I found order {order_id} for "
             f"the {product}. Its current status is {result['status']} with "
             f"{result['carrier']}, and the latest estimate is {result['eta']}. {policy} "
             + fill(AGENT, 0, 6) + " Is there anything else I can help you with today?"}
    # 6-10 messages: optionally no system prompt, optionally extra exchanges before the call
    msgs = ([system] if r.random() < 0.85 else []) + [opening, clarify, answer]
    target = r.randint(6, 10)
    while len(msgs) + 3 < target - 1:
        msgs.append({"role": "assistant", "content": fill(AGENT, 1, 5) + " One more question: "
                     "when did you place the order, roughly?"})
        msgs.append({"role": "user", "content": fill(FILLER, 1, 6)})
    msgs += [call, result_msg, final]
    if len(msgs) < target:
        msgs.append({"role": "user", "content": fill(FILLER, 1, 3)})
        msgs.append({"role": "assistant", "content": fill(AGENT, 1, 6)
                     + " I have noted that on your case."})
    return {"messages": msgs, "tools": TOOL_DEFS, "record_id": i, "scenario": issue,
            "tool_name": tool}


def _pricing(w: np.ndarray, d: np.ndarray, y: np.ndarray, cap: int) -> tuple[float, np.ndarray]:
    """The pack (counts per length, at most d of each) of the largest dual value y: a bounded
    knapsack by dynamic programming over the fill, each count split into powers of two."""
    items = []  # (length, value, index, copies)
    for i in range(len(w)):
        if y[i] <= 0:
            continue
        m, c = min(int(d[i]), cap // int(w[i])), 1
        while m > 0:
            t = min(c, m)
            items.append((int(w[i]) * t, float(y[i]) * t, i, t))
            m, c = m - t, 2 * c
    best = np.zeros(cap + 1)
    took = []
    for size, value, _, _ in items:
        cand = np.full(cap + 1, -np.inf)
        cand[size:] = best[:cap + 1 - size] + value
        took.append(cand > best + 1e-12)
        best = np.where(took[-1], cand, best)
    counts = np.zeros(len(w), np.int64)
    room = cap
    for (size, _, i, t), tk in zip(reversed(items), reversed(took), strict=True):
        if tk[room]:
            counts[i] += t
            room -= size
    return float(best[cap]), counts


def lp_bound(lengths: np.ndarray, cap: int) -> float:
    """Optimum of the configuration LP (min packs, fractional, each length covered as often as
    it occurs), by column generation; the dual of each length prices the next pack."""
    from scipy.optimize import linprog  # bench only: not a runtime dependency

    w, d = np.unique(lengths[(lengths > 0) & (lengths <= cap)], return_counts=True)
    cols = [np.where(np.arange(len(w)) == i, min(int(d[i]), cap // int(w[i])), 0)
            for i in range(len(w))]
    while True:
        a = np.array(cols).T
        res = linprog(np.ones(a.shape[1]), A_ub=-a, b_ub=-d, bounds=(0, None), method="highs")
        value, col = _pricing(w, d, -res.ineqlin.marginals, cap)
        if value <= 1 + 1e-9:  # no pack prices above 1: the LP is optimal
            return float(res.fun)
        cols.append(col)


def resample(src: Path, dest: Path, records: int, seed: int) -> None:
    """`records` lines of `src` drawn with replacement (blank lines skipped), seeded."""
    lines = [ln.rstrip(b"\r\n") for ln in src.read_bytes().splitlines() if ln.strip()]
    if not lines:
        raise SystemExit(f"{src}: no records to resample")
    r = random.Random(seed)
    with open(dest, "wb") as f:
        for _ in range(records):
            f.write(lines[r.randrange(len(lines))] + b"\n")


def pipeline_output(records: int, keep: Path) -> Path:
    """The validated JSONL of an offline pipeline run of `records` records."""
    from common import ScratchProject, require_ok, run_snakemake

    project = ScratchProject(keep=keep)
    project.configure(records=records)
    t = time.perf_counter()
    require_ok(run_snakemake(project, "output/sdg/customer_support_tool_sft.jsonl"),
               "offline pipeline run")
    out = project.root / "output/sdg/customer_support_tool_sft.jsonl"
    print(f"pipeline: {sum(1 for _ in out.open('rb'))} valid of {records} records "
          f"in {time.perf_counter() - t:.1f}s ({out})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--tokenizer", default="o200k_harmony")
    ap.add_argument("--pack-size", type=int, default=4096)
    ap.add_argument("--algorithm", default="histogram_exact_fit")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep this JSONL path")
    ap.add_argument("--input", type=Path, default=None,
                    help="pack this JSONL instead of synthetic records")
    ap.add_argument("--resample", type=int, default=None, metavar="N",
                    help="with --input: pack N lines sampled from it with replacement")
    ap.add_argument("--seed", type=int, default=1234, help="seed of --resample")
    ap.add_argument("--from-pipeline", type=int, default=None, metavar="N",
                    help="generate N records with the offline pipeline and pack those")
    ap.add_argument("--lp-bound", action="store_true",
                    help="also solve the configuration LP for its bound (needs scipy)")
    a = ap.parse_args()
    if a.from_pipeline is not None:
        scratch = Path(tempfile.mkdtemp(prefix="sdgpack-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        a.input = pipeline_output(a.from_pipeline, scratch)
        a.resample = a.resample or a.records
    if a.resample is not None and a.input is None:
        ap.error("--resample needs --input")
    if a.resample is not None and a.resample < 1:
        ap.error("--resample must be >= 1")
    with tempfile.TemporaryDirectory() as td:
        path = a.keep or Path(td) / "bench.jsonl"
        if a.input is not None and a.resample is None:
            path = a.input
        elif a.input is not None and not path.exists():
            t = time.perf_counter()
            resample(a.input, path, a.resample, a.seed)
            print(f"resampled {a.resample} records of {a.input} "
                  f"({path.stat().st_size / 1e6:.0f} MB, seed {a.seed}) "
                  f"in {time.perf_counter() - t:.1f}s")
        elif not path.exists():
            r = random.Random(1234)
            t = time.perf_counter()
            with open(path, "wb") as f:
                for i in range(a.records):
                    f.write(orjson.dumps(conversation(r, i)) + b"\n")
            print(f"generated {a.records} records ({path.stat().st_size / 1e6:.0f} MB) "
                  f"in {time.perf_counter() - t:.1f}s")
        cfg = PackingConfig(tokenizer=a.tokenizer, pack_size=a.pack_size,
                            algorithm=a.algorithm)
        rep = pack_file(path, cfg, Path(td) / "report.json", workers=a.workers)
        lp = None
        if a.lp_bound:
            t = time.perf_counter()
            chunks = tokenize_file(path, a.tokenizer, {"chat_template": None}, False, a.workers)
            lens = np.concatenate([c.total for c in chunks])
            lp = lp_bound(lens, a.pack_size)
            print(f"configuration LP solved in {time.perf_counter() - t:.1f}s")
    rows = [
        ("records", f"{rep.records:,}"),
        ("tokenizer / template", f"{rep.tokenizer} / {rep.chat_template}"),
        ("seconds", f"{rep.seconds:.2f}"),
        ("records/s", f"{rep.records / rep.seconds:,.0f}"),
        ("tokens (mean/rec)", f"{rep.total_tokens:,} ({rep.total_tokens / rep.records:.0f})"),
        ("loss tokens", f"{rep.loss_tokens:,}"),
        ("algorithm", rep.algorithm),
        ("packs", f"{rep.packs:,}"),
        ("lower bound", f"{rep.lower_bound:,}"),
        ("ratio to lower bound", f"{rep.ratio_to_lower_bound:.4f}"),
        ("tight lower bound", f"{rep.tight_lower_bound:,}"),
        ("ratio to tight bound", f"{rep.ratio_to_tight_lower_bound:.4f}"),
    ]
    if lp is not None:
        lp_packs = math.ceil(lp - 1e-7)
        rows += [("LP bound", f"{lp_packs:,} ({lp:,.2f})"),
                 ("ratio to LP bound", f"{rep.packs / lp_packs:.4f}")]
    rows += [
        ("efficiency", f"{rep.efficiency:.4f}"),
        ("structural problems", f"{rep.problem_count}"),
    ]
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")


if __name__ == "__main__":
    main()
