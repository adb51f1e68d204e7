"""Batch API execution (`models[].execution: batch`): a shard's missing requests as Batch jobs.

For the shard's records, every request of a batch-model column that the store does not hold
goes into one Batch API input file (`custom_id` = the store key, `body` = exactly what the
online path would send), is uploaded and becomes a batch. Columns that read earlier columns'
answers wait for them: each dependency level is its own batch, one per model. Lines that fail
go into a follow-up batch, up to the model's `max_retries`; what still fails becomes a failed
record (the engine keeps it with its error), so the next run re-asks only those.

The batch's ids are written to `<store>/batches/records-<start>-<end>.json` after the upload
and again after the create, each time before waiting, so a killed job (`kill -9`, a cancelled
SLURM job, a preempted node) resumes polling the SAME batch on its next run instead of paying
again. Answers go into the store as online answers do; the engine then reads them from there
and writes the shard the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import openai
import orjson

from sdgflow.build.spec import write_if_changed
from sdgflow.config.errors import ConfigError
from sdgflow.config.load import llm_column_order
from sdgflow.config.models import Recipe
from sdgflow.config.prompts import template_variables
from sdgflow.generate.budget import BudgetGuard, BudgetReached, StoreTally, price_lookup
from sdgflow.generate.client import make_client, provider_for
from sdgflow.generate.engine import _answer
from sdgflow.generate.estimate import Usage
from sdgflow.generate.request import build_request, request_key
from sdgflow.generate.retry import FatalEndpointError, Outcome, backoff, classify
from sdgflow.generate.store import RequestStore, StoredAnswer

log = logging.getLogger(__name__)

CHAT_URL = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"  # the only window OpenAI's Batch API accepts
WINDOW_SECONDS = 24 * 3600
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
# Polling back-off: a batch takes minutes to hours, so polls thin out to one a minute.
POLL_FIRST, POLL_FACTOR, POLL_MAX = 0.5, 1.5, 60.0
# Batch API calls (upload, create, retrieve) that fail transiently are retried this often.
API_RETRIES = 6
MAX_LINES = 50_000  # OpenAI's limit of requests per batch input file
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    key: str
    record_id: int
    column: str
    body: dict[str, Any]


@dataclass
class BatchOutcome:
    # store key -> error, for requests still without an answer after every round
    failed: dict[str, str] = field(default_factory=dict)
    # store key -> attempts (its batch round + 1), for answers this job's batches stored
    fresh: dict[str, int] = field(default_factory=dict)
    requests_sent: int = 0
    batches_created: int = 0
    # The cap that kept requests out of a batch: the job stops the build as online does.
    budget_reached: BudgetReached | None = None


def batch_aliases(recipe: Recipe) -> set[str]:
    """Model aliases of LLM columns whose model has `execution: batch`."""
    return {c.model_alias for c in recipe.llm_columns
            if recipe.model_for(c.model_alias).execution == "batch"}


def state_path(store_root: str | Path, start: int, end: int) -> Path:
    """The file that remembers a shard's batches (by record range: previews share the store)."""
    return Path(store_root) / "batches" / f"records-{start}-{end}.json"


class ShardState:
    """`<store>/batches/records-<start>-<end>.json`: every batch made for these records."""

    def __init__(self, path: Path, shard: str, start: int, end: int) -> None:
        self.path = path
        if path.exists():
            self.data = orjson.loads(path.read_bytes())
        else:
            self.data = {"shard": shard, "records": [start, end], "batches": []}

    @property
    def entries(self) -> list[dict[str, Any]]:
        return self.data["batches"]

    def save(self) -> None:
        """Atomically (temp file + rename): a kill mid-write leaves the previous version."""
        write_if_changed(self.path, orjson.dumps(self.data, option=orjson.OPT_INDENT_2))


def load_states(store_root: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every shard's batch file under a store, for `sdgflow batch status/cancel`."""
    folder = Path(store_root) / "batches"
    return [(p, orjson.loads(p.read_bytes())) for p in sorted(folder.glob("records-*.json"))]


def generate_batches(recipe: Recipe, store: RequestStore, records: list[dict[str, Any]],
                     shard: str) -> BatchOutcome:
    """Run the shard's batch-model requests as Batch API jobs (resuming any left open)."""
    if not records or not batch_aliases(recipe):
        return BatchOutcome()
    return asyncio.run(ShardBatches(recipe, store, records, shard).run())


class ShardBatches:
    def __init__(self, recipe: Recipe, store: RequestStore, records: list[dict[str, Any]],
                 shard: str, aliases: set[str] | None = None) -> None:
        self.recipe, self.store, self.records = recipe, store, records
        ids = [r["record_id"] for r in records]
        self.start, self.end = min(ids), max(ids) + 1
        self.state = ShardState(state_path(store.root, self.start, self.end), shard,
                                self.start, self.end)
        self.columns = {c.name: c for c in recipe.llm_columns}
        self.order = llm_column_order(recipe)
        self.reads = {n: _reads(self.columns[n].prompt, self.columns[n].system_prompt,
                                self.columns) for n in self.order}
        self.levels = self._levels(batch_aliases(recipe) if aliases is None else aliases)
        self.stored: dict[str, StoredAnswer] = {}
        self.errors: dict[str, str] = {}
        self.outcome = BatchOutcome()
        self.clients: dict[str, openai.AsyncOpenAI] = {}
        # The spending cap holds for batches too: a batch holds only what the cap admits.
        self.guard = BudgetGuard(recipe.budget, StoreTally(store.root, price_lookup(recipe))) \
            if recipe.budget.caps else None

    def _levels(self, aliases: set[str]) -> list[list[str]]:
        """Batch columns by dependency level; a batch column that reads an online column's
        answer is left to the online path (it cannot be asked before that answer exists)."""
        level: dict[str, int] = {}
        for name in self.order:
            if self.columns[name].model_alias not in aliases:
                continue
            reads = self.reads[name]
            if all(r in level for r in reads):
                level[name] = 1 + max((level[r] for r in reads), default=-1)
            else:
                log.warning("column %s uses a batch model but reads an online column's answer "
                            "(%s); its requests are sent online", name,
                            ", ".join(sorted(r for r in reads if r not in level)))
        return [[n for n in self.order if level.get(n) == k]
                for k in range(1 + max(level.values(), default=-1))]

    def client(self, alias: str) -> openai.AsyncOpenAI:
        # One client per alias for the whole job: the in-process simulator lives in it.
        if alias not in self.clients:
            self.clients[alias] = make_client(self.recipe, alias, 4)
        return self.clients[alias]

    async def run(self) -> BatchOutcome:
        started = time.monotonic()
        self.stored = self.store.load(self.start, self.end)
        try:
            # A batch left open by an earlier (killed) run of this shard: wait for it first.
            await asyncio.gather(*(self._finish(e, resumed=True) for e in self.state.entries
                                   if not e["collected"] and self._resumable(e)))
            for columns in self.levels:
                requests = self._requests(set(columns))
                if not requests:
                    continue
                by_alias: dict[str, list[Request]] = {}
                for request in requests:
                    by_alias.setdefault(self.columns[request.column].model_alias,
                                        []).append(request)
                await asyncio.gather(*(self._probe(a) for a in by_alias))
                await asyncio.gather(*(self._ask(a, r) for a, r in by_alias.items()))
        finally:
            for client in self.clients.values():
                await client.close()
        log.info("batch execution of records %d-%d: %d requests in %d batches, %d still failed "
                 "(%.1fs)", self.start, self.end, self.outcome.requests_sent,
                 self.outcome.batches_created, len(self.outcome.failed),
                 time.monotonic() - started)
        return self.outcome

    def frontier(self) -> list[Request]:
        """Every request the store does not answer whose inputs it does (batch_files.py)."""
        self.stored = self.store.load(self.start, self.end)
        return self._requests({n for level in self.levels for n in level})

    def _resumable(self, entry: dict[str, Any]) -> bool:
        """An open batch of an earlier run can be resumed only where it was made."""
        alias = entry["alias"]
        if any(m.alias == alias for m in self.recipe.models) and \
                provider_for(self.recipe, alias).name == entry["provider"]:
            return True
        log.warning("batch %s (model alias %s, provider %s) was made under another recipe "
                    "setting and is left as it is; its requests are asked again here",
                    entry["batch_id"], alias, entry["provider"])
        return False

    def _requests(self, columns: set[str]) -> list[Request]:
        """This level's requests that the store does not answer (same body and key as online);
        a record whose earlier answer is missing (it failed) is not asked further."""
        found = []
        for record in self.records:
            record_id = record["record_id"]
            context, answered = dict(record), set()
            for name in self.order:
                column = self.columns[name]
                if not all(r in answered for r in self.reads[name]):
                    continue
                body = build_request(self.recipe, column, context, record_id)
                key = request_key(record_id, name,
                                  provider_for(self.recipe, column.model_alias).name, body)
                answer = self.stored.get(key)
                if answer is not None:
                    context[name] = answer.text
                    answered.add(name)
                elif name in columns:
                    found.append(Request(key, record_id, name, body))
        return found

    async def _probe(self, alias: str) -> None:
        """Before uploading anything: does this provider have a Batch API at all?"""
        try:
            await self._api(alias, lambda c: c.batches.list(limit=1))
        except openai.NotFoundError:
            index = next(i for i, m in enumerate(self.recipe.models) if m.alias == alias)
            model, provider = self.recipe.model_for(alias), provider_for(self.recipe, alias)
            raise ConfigError(
                f"model '{alias}' ({model.model}) has execution: batch, but provider "
                f"'{provider.name}' ({provider.endpoint}) has no Batch API (HTTP 404 on "
                "/v1/batches); nothing was uploaded",
                key=f"models[{index}].execution",
                fix=f"set `execution: online` for model '{alias}' (or delete the line), or use a "
                "provider that serves /v1/files and /v1/batches") from None

    async def _api(self, alias: str, call: Callable[[openai.AsyncOpenAI], Awaitable[T]]) -> T:
        """One Batch API call, retried when the failure is transient (5xx, 429, timeouts)."""
        attempt = 0
        while True:
            try:
                return await call(self.client(alias))
            except openai.NotFoundError:
                raise
            except Exception as exc:
                outcome = classify(exc)
                if outcome is Outcome.FATAL:
                    provider = provider_for(self.recipe, alias)
                    key = f" (key in ${provider.api_key})" if provider.api_key else ""
                    raise FatalEndpointError(
                        f"provider '{provider.name}' ({provider.endpoint}) refused a Batch API "
                        f"call for model alias '{alias}': {exc}. Check the key{key} and the "
                        "endpoint; open batches are kept and resumed by the next run") from None
                attempt += 1
                if outcome is Outcome.FAIL or attempt > API_RETRIES:
                    raise
                await asyncio.sleep(backoff(attempt - 1))

    async def _ask(self, alias: str, requests: list[Request]) -> None:
        """One batch of `requests`, then follow-up batches of the failed ones."""
        rounds = self.recipe.model_for(alias).inference_parameters.max_retries + 1
        if len(requests) > MAX_LINES:
            raise ConfigError(
                f"records {self.start}-{self.end} need {len(requests)} requests of model alias "
                f"'{alias}' in one batch; the Batch API takes at most {MAX_LINES} per file",
                key="shard_size", fix=f"lower shard_size (now {self.recipe.shard_size}) so a "
                "shard's requests of one model and dependency level fit in one batch")
        pending = requests
        for round_ in range(rounds):
            admitted, held = self._admit(alias, pending)
            if not admitted:
                break
            capped = len(admitted) < len(pending)
            entry = await self._submit(alias, admitted, round_)
            status = await self._finish(entry)
            if self.guard is not None:
                for reservation in held:
                    self.guard.settle(reservation)
            pending = [r for r in pending if r.key not in self.stored]
            # Cancelled by the user, or the budget's cap reached: nothing more is asked.
            if not pending or status == "cancelled" or capped:
                break
            log.warning("%d of %d requests failed in batch %s; %s", len(pending),
                        len(entry["requests"]), entry["batch_id"],
                        "asking them again in a follow-up batch" if round_ + 1 < rounds else
                        "no retries left (max_retries): they stay failed records")
        for request in pending:
            self.outcome.failed[request.key] = self.errors.get(
                request.key, "no answer in the batch's output or error file")

    def _admit(self, alias: str, requests: list[Request]) -> tuple[list[Request], list[Usage]]:
        """The requests the budget admits (all without caps), and their reservations; the rest
        are failed records `not sent: budget... reached`, as online."""
        if self.guard is None:
            return requests, []
        price = self.recipe.report.prices.get(alias)
        held: list[Usage] = []
        for request in requests:
            try:
                held.append(self.guard.admit_request(request.body, request.column, price))
            except BudgetReached as reached:
                self.outcome.budget_reached = reached
                for left in requests[len(held):]:
                    self.errors[left.key] = f"not sent: {reached}"
                break
        return requests[:len(held)], held

    async def _submit(self, alias: str, requests: list[Request], round_: int
                      ) -> dict[str, Any]:
        model, provider = self.recipe.model_for(alias), provider_for(self.recipe, alias)
        lines = input_lines(requests)
        name = f"sdgflow-records-{self.start}-{self.end}-{alias}-r{round_}.jsonl"
        uploaded = await self._api(alias, lambda c: c.files.create(file=(name, lines),
                                                                   purpose="batch"))
        entry: dict[str, Any] = {
            "batch_id": None, "file_id": uploaded.id, "alias": alias, "model": model.model,
            "provider": provider.name, "round": round_, "status": "uploaded",
            "columns": sorted({r.column for r in requests}),
            "counts": {"total": len(requests), "completed": 0, "failed": 0},
            "uploaded_at": int(time.time()), "collected": False,
            "requests": {r.key: [r.record_id, r.column] for r in requests}}
        self.state.entries.append(entry)
        self.state.save()  # the file id first: a kill before the create re-uses the upload
        await self._create(entry)
        self.outcome.requests_sent += len(requests)
        return entry

    async def _create(self, entry: dict[str, Any]) -> None:
        batch = await self._api(entry["alias"], lambda c: c.batches.create(
            input_file_id=entry["file_id"], endpoint=CHAT_URL,
            completion_window=COMPLETION_WINDOW,
            metadata={"sdgflow_shard": self.state.data["shard"][-512:]}))
        entry.update(batch_id=batch.id, status=batch.status, created_at=batch.created_at)
        self.state.save()  # before waiting: a killed job resumes this batch
        self.outcome.batches_created += 1
        log.info("created batch %s for %d requests of records %d-%d (model %s, round %d)",
                 batch.id, len(entry["requests"]), self.start, self.end, entry["model"],
                 entry["round"])

    async def _find(self, entry: dict[str, Any]) -> str | None:
        """The batch an earlier run created from this upload but was killed before recording."""
        pages = await self._api(entry["alias"], lambda c: c.batches.list(limit=100))
        async for batch in pages:
            if batch.input_file_id == entry["file_id"]:
                return batch.id
            if batch.created_at < entry["uploaded_at"] - 60:
                break  # the list is newest first: older batches cannot be from this upload
        return None

    async def _finish(self, entry: dict[str, Any], resumed: bool = False) -> str:
        """Wait for the entry's batch to end, store its answers; returns its final status."""
        if entry["batch_id"] is None:
            found = await self._find(entry)
            if found is None:
                await self._create(entry)
            else:
                entry["batch_id"] = found
                self.state.save()
        elif resumed:
            log.info("resuming batch %s (records %d-%d, created by an earlier run)",
                     entry["batch_id"], self.start, self.end)
        try:
            batch = await self._wait(entry)
            self._check_validated(entry, batch)
            await self._collect(entry, batch)
        except openai.NotFoundError:
            # The endpoint no longer knows the batch or its files (e.g. the in-process simulator
            # of a killed job, an output file past its expiry): what is missing from the store
            # is asked again.
            log.warning("batch %s or its output is unknown to provider %s; its unanswered "
                        "requests are asked again", entry["batch_id"], entry["provider"])
            entry.update(status="lost", collected=True)
            self.state.save()
            return "lost"
        return str(batch.status)

    def _check_validated(self, entry: dict[str, Any], batch: Any) -> None:
        """A batch that failed validation: the provider reads another input format."""
        if batch.status == "failed":
            problems = "; ".join(f"line {e.line}: {e.message}" for e in
                                 (batch.errors.data if batch.errors and batch.errors.data
                                  else [])) or "no reason given"
            entry.update(status="failed", collected=True)
            self.state.save()
            raise FatalEndpointError(
                f"provider '{entry['provider']}' rejected batch {batch.id} (model "
                f"{entry['model']}) at validation: {problems}. The input follows OpenAI's "
                "Batch API format; if this provider reads another, set `execution: online`")

    async def _wait(self, entry: dict[str, Any]) -> Any:
        started, delay = time.monotonic(), POLL_FIRST
        live = sys.stderr.isatty()
        while True:
            batch = await self._api(entry["alias"],
                                    lambda c: c.batches.retrieve(entry["batch_id"]))
            counts = batch.request_counts
            if counts is not None:
                entry["counts"] = {"total": counts.total, "completed": counts.completed,
                                   "failed": counts.failed}
            if batch.status != entry["status"]:
                entry["status"] = batch.status
                self.state.save()
            line = status_line(entry, batch.created_at, time.monotonic() - started)
            if live:
                sys.stderr.write(f"\r\x1b[2K{line}")
                sys.stderr.flush()
            else:
                log.info("%s", line)
            if batch.status in TERMINAL:
                if live:
                    sys.stderr.write("\n")
                return batch
            await asyncio.sleep(delay)
            delay = min(POLL_MAX, delay * POLL_FACTOR)

    async def _collect(self, entry: dict[str, Any], batch: Any) -> None:
        """Output lines become store answers (the key proves they belong); error lines and
        empty replies become errors, asked again by a follow-up batch."""
        requests = entry["requests"]
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self._api(entry["alias"], lambda c, f=file_id: c.files.content(f))
            for raw in content.content.splitlines():
                if not raw.strip():
                    continue
                line = orjson.loads(raw)
                key = line.get("custom_id")
                if key not in requests:
                    continue  # not ours (another tool's line in a shared file): never trusted
                record_id, column = requests[key]
                answer, error = answer_of(line, key, record_id, column, entry)
                if answer is None:
                    self.errors[key] = f"batch {batch.id}: {error}"
                elif key not in self.stored:
                    self.store.append(answer)
                    self.stored[key] = answer
                    self.outcome.fresh[key] = entry["round"] + 1
        entry.update(status=batch.status, collected=True)
        self.state.save()


def input_lines(requests: list[Request]) -> bytes:
    """The Batch API input file (what `vllm run-batch -i` reads too): custom_id = store key."""
    return b"".join(orjson.dumps({"custom_id": r.key, "method": "POST", "url": CHAT_URL,
                                  "body": r.body}) + b"\n" for r in requests)


def answer_of(line: dict[str, Any], key: str, record_id: int, column: str,
               entry: dict[str, Any]) -> tuple[StoredAnswer | None, str | None]:
    """(the stored answer, None) for a usable output line, else (None, why not)."""
    response = line.get("response") or {}
    body = response.get("body") or {}
    if line.get("error"):
        error = line["error"]  # OpenAI: {code, message}; vLLM's run-batch may write a string
        return None, f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) \
            else str(error)
    if response.get("status_code") != 200:
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        detail = message or (orjson.dumps(body).decode()[:300] if body else "no body")
        return None, f"HTTP {response.get('status_code')}: {detail}"
    choices = body.get("choices") or []
    if not choices:
        return None, "EmptyReply: the endpoint answered with no choices"
    message = choices[0].get("message") or {}
    if not (message.get("content") or "").strip() and choices[0].get("finish_reason") != "length":
        return None, "EmptyReply: the reply had no content (reasoning only or empty)"
    answer = _answer(key, record_id, column, body, 0.0, entry["model"], entry["provider"])
    # No per-request latency in a batch: None, so latency statistics are not skewed to zero.
    return dataclasses.replace(answer, latency_s=None), None


def status_line(entry: dict[str, Any], created_at: int | None, waited: float) -> str:
    counts = entry["counts"]
    age = time.time() - created_at if created_at else waited
    return (f"batch {entry['batch_id']} ({entry['model']}, round {entry['round']}): "
            f"{entry['status']}, {counts['completed']}/{counts['total']} completed, "
            f"{counts['failed']} failed, {_duration(age)} elapsed of the "
            f"{COMPLETION_WINDOW} window")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _reads(prompt: str, system_prompt: str | None, columns: dict[str, Any]) -> set[str]:
    names = template_variables(prompt) | template_variables(system_prompt or "")
    return {n for n in names if n in columns}


async def survey(recipe: Recipe, store_root: str | Path, cancel: bool = False
                 ) -> list[dict[str, Any]]:
    """One row per batch this build made (`sdgflow batch status`), the open ones refreshed
    from the endpoint; with `cancel`, each open batch is cancelled first (its completed lines
    are kept: the next generate run collects them and asks only the rest). The batch files are
    only read here: the generate job that owns a shard is the one writer of its file."""
    rows: list[dict[str, Any]] = []
    clients: dict[str, openai.AsyncOpenAI] = {}
    aliases = {m.alias for m in recipe.models}
    try:
        for _, data in load_states(store_root):
            start, end = data["records"]
            for entry in data["batches"]:
                row = {"shard": Path(data["shard"]).stem, "records": f"{start}-{end}",
                       "batch_id": entry["batch_id"] or "(not created)",
                       "columns": ",".join(entry.get("columns", [])),
                       "round": entry["round"], "status": entry["status"],
                       **entry["counts"], "note": ""}
                rows.append(row)
                if entry["collected"] or not entry["batch_id"] or entry["status"] in TERMINAL:
                    continue
                if entry["alias"] not in aliases:
                    row["note"] = f"model alias {entry['alias']} is no longer in the recipe"
                    continue
                if entry["alias"] not in clients:
                    clients[entry["alias"]] = make_client(recipe, entry["alias"], 2)
                batches = clients[entry["alias"]].batches
                try:
                    batch = await (batches.cancel(entry["batch_id"]) if cancel
                                   else batches.retrieve(entry["batch_id"]))
                except openai.NotFoundError:
                    row["note"] = "unknown to the endpoint (the next run asks its requests again)"
                    continue
                except openai.APIError as exc:
                    row["note"] = f"{type(exc).__name__}: {str(exc)[:120]}"
                    continue
                row["status"] = batch.status
                if batch.request_counts is not None:
                    row.update(total=batch.request_counts.total,
                               completed=batch.request_counts.completed,
                               failed=batch.request_counts.failed)
    finally:
        for client in clients.values():
            await client.close()
    return rows
