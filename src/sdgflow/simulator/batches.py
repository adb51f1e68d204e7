"""The simulator's Batch API: `/v1/files` and `/v1/batches`, in OpenAI's wire format.

Input lines are `{custom_id, method, url, body}`; each body is answered by the same chat code
the online endpoint uses (`Simulator._completion`, the same fault plan by fingerprint and
attempt), so a batch answer equals the online answer to the same body. Output lines are
`{id, custom_id, response: {status_code, request_id, body}, error}`; lines that failed go to
the error file with the same shape (or `response: null` and `error: {code, message}` for a
batch that expired or was cancelled before reaching them).

Time is simulated lazily: a batch's status is computed from its age whenever it is read
(`batch_seconds` to complete, `batch_expire_seconds` to expire), and its answers are produced
when it becomes terminal, so nothing runs in the background. The state lives in the app, so
the in-process `offline` provider forgets batches with its client; `sdgflow serve-sim` keeps
them while it runs.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdgflow.simulator.app import Simulator, _error_body, fingerprint
from sdgflow.simulator.faults import plan_faults

CHAT_URL = "/v1/chat/completions"
WINDOWS = {"24h": 24 * 3600}
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
# The simulated clock (a batch's age); tests replace it to reach expiry without waiting.
clock = time.monotonic


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.content),
                "created_at": self.created_at, "filename": self.filename,
                "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}


@dataclass
class SimBatch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    lines: list[dict[str, Any]]
    created_at: int
    started: float  # monotonic
    status: str = "validating"
    errors: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    times: dict[str, int] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        total = len(self.lines)
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint,
            "input_file_id": self.input_file_id, "completion_window": self.completion_window,
            "status": self.status, "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id, "created_at": self.created_at,
            "expires_at": self.created_at + WINDOWS.get(self.completion_window, 86400),
            **{f"{name}_at": self.times.get(name) for name in
               ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling",
                "cancelled")},
            "request_counts": {"total": total, "completed": self.completed,
                               "failed": self.failed},
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "metadata": self.metadata,
        }


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(message: str, status: int, code: str | None = None, param: str | None = None
           ) -> Response:
    return Response(_error_body(message, "invalid_request_error", code, param),
                    status_code=status, media_type="application/json")


class BatchService:
    """Files and batches of one simulator; `created` counts every batch ever created."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, SimBatch] = {}
        self.created = 0
        self._ids = itertools.count(1)
        # Unique across apps: each job's in-process simulator starts counting afresh.
        self._app = uuid.uuid4().hex[:8]

    def _id(self, prefix: str) -> str:
        return f"{prefix}{self._app}{next(self._ids):04d}"

    def _store_file(self, filename: str, purpose: str, content: bytes) -> StoredFile:
        stored = StoredFile(self._id("file-sim"), filename, purpose, content, int(time.time()))
        self.files[stored.id] = stored
        return stored

    # -- answering ------------------------------------------------------------------------------

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, response body) for one chat body, exactly as the online endpoint answers it
        (same fingerprint, attempt count and fault plan), minus the transport-level faults a
        batch service absorbs (429, hang, reset); `rate_batch_error` fails lines on its own."""
        sim, stats = self.sim, self.sim.stats
        stats.received()
        model = body.get("model")
        if not isinstance(body.get("messages"), list):
            return 400, orjson.loads(_error_body("'messages' is required.",
                                                 "invalid_request_error", None, "messages"))
        if model not in sim.models:
            return 404, orjson.loads(_error_body(
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error", "model_not_found", "model"))
        fp = fingerprint(body)
        attempt = stats.next_attempt(fp)
        if _draw(sim.settings.seed, fp, attempt) < sim.settings.rate_batch_error:
            self._count("500", fp, attempt)
            return 500, orjson.loads(_error_body(
                "The server had an error while processing your request.", "server_error", None))
        plan = plan_faults(sim.settings, fp, attempt)
        payload = orjson.loads(sim._completion(body, str(model), fp, attempt, plan))
        self._count("200", fp, attempt)
        return 200, payload

    def _count(self, status: str, fp: str, attempt: int) -> None:
        self.sim.stats.answered(status, fp)
        if self.sim.log is not None:
            self.sim.log.write(fp, status, attempt, self.sim.stats.now())

    def _finish(self, batch: SimBatch, status: str, done: int, reason: str | None) -> None:
        """Answer the first `done` lines; the rest fail with `reason` (expired or cancelled)."""
        outputs, errors = [], []
        for index, line in enumerate(batch.lines):
            entry: dict[str, Any] = {"id": f"batch_req_{batch.id}_{index}",
                                     "custom_id": line["custom_id"], "response": None,
                                     "error": None}
            if index < done:
                code, body = self.answer(line["body"])
                entry["response"] = {"status_code": code,
                                     "request_id": f"req_{batch.id}_{index}", "body": body}
                (outputs if code == 200 else errors).append(entry)
            else:
                entry["error"] = {"code": f"batch_{reason}",
                                  "message": f"This request could not be executed before the "
                                  f"batch was {reason}."}
                errors.append(entry)
        batch.completed, batch.failed = len(outputs), len(errors)
        if outputs:
            batch.output_file_id = self._store_file(
                f"{batch.id}_output.jsonl", "batch_output", _jsonl(outputs)).id
        if errors:
            batch.error_file_id = self._store_file(
                f"{batch.id}_error.jsonl", "batch_output", _jsonl(errors)).id
        batch.status = status
        batch.times.setdefault("finalizing", int(time.time()))
        batch.times[status] = int(time.time())

    def advance(self, batch: SimBatch) -> SimBatch:
        """Bring the batch's status up to its age."""
        if batch.status in TERMINAL:
            return batch
        settings = self.sim.settings
        age = clock() - batch.started
        total = len(batch.lines)
        seconds = settings.batch_seconds
        expire = settings.batch_expire_seconds

        def done_by(moment: float) -> int:
            return total if seconds <= 0 else min(total, int(total * moment / seconds))

        if batch.cancel_requested_at is not None:
            self._finish(batch, "cancelled", done_by(batch.cancel_requested_at - batch.started),
                         "cancelled")
        elif expire is not None and age >= expire and seconds > expire:
            self._finish(batch, "expired", done_by(expire), "expired")
        elif age >= seconds:
            self._finish(batch, "completed", total, None)
        else:
            # The last tenth of the processing time is spent writing the output files.
            batch.status = "finalizing" if age >= 0.9 * seconds else "in_progress"
            batch.times.setdefault(batch.status, int(time.time()))
            batch.completed = done_by(age)
        return batch

    # -- endpoints ------------------------------------------------------------------------------

    def _find(self, request: Request, table: dict[str, Any], param: str
              ) -> tuple[Any, Response | None]:
        """The file or batch the path names, or the 401/404 to answer instead."""
        denied = self.sim._unauthorized(request, counted=False)
        if denied is not None:
            return None, denied
        found = table.get(request.path_params[param])
        if found is None:
            return None, _error(f"No such {param.removesuffix('_id')}.", 404, param=param)
        return found, None

    async def upload(self, request: Request) -> Response:
        denied = self.sim._unauthorized(request, counted=False)
        if denied is not None:
            return denied
        async with request.form() as form:
            upload, purpose = form.get("file"), form.get("purpose")
            if upload is None or isinstance(upload, str):
                return _error("'file' is required (multipart upload).", 400, param="file")
            content = await upload.read()
            filename = upload.filename or "upload.jsonl"
        if purpose != "batch":
            return _error(f"purpose {purpose!r} is not served here; use 'batch'.", 400,
                          param="purpose")
        return _json(self._store_file(filename, "batch", content).wire())

    async def file(self, request: Request) -> Response:
        stored, problem = self._find(request, self.files, "file_id")
        if problem is not None:
            return problem
        return _json(stored.wire())

    async def file_content(self, request: Request) -> Response:
        stored, problem = self._find(request, self.files, "file_id")
        if problem is not None:
            return problem
        return Response(stored.content, media_type="application/octet-stream")

    async def create(self, request: Request) -> Response:
        denied = self.sim._unauthorized(request, counted=False)
        if denied is not None:
            return denied
        params = orjson.loads(await request.body())
        stored = self.files.get(params.get("input_file_id", ""))
        if stored is None:
            return _error("No such input file.", 400, param="input_file_id")
        if params.get("endpoint") != CHAT_URL:
            return _error(f"endpoint must be {CHAT_URL}.", 400, param="endpoint")
        if params.get("completion_window") not in WINDOWS:
            return _error("completion_window must be '24h'.", 400, param="completion_window")
        batch = SimBatch(self._id("batch_sim"), stored.id, CHAT_URL, params["completion_window"],
                         params.get("metadata"), [], int(time.time()), clock())
        batch.lines, batch.errors = _parse_input(stored.content)
        if batch.errors:
            batch.status = "failed"
            batch.times["failed"] = int(time.time())
        self.batches[batch.id] = batch
        self.created += 1
        return _json(batch.wire())

    async def retrieve(self, request: Request) -> Response:
        batch, problem = self._find(request, self.batches, "batch_id")
        if problem is not None:
            return problem
        return _json(self.advance(batch).wire())

    async def cancel(self, request: Request) -> Response:
        batch, problem = self._find(request, self.batches, "batch_id")
        if problem is not None:
            return problem
        self.advance(batch)
        if batch.status in TERMINAL:
            return _error(f"Cannot cancel a batch that is {batch.status}.", 409)
        batch.cancel_requested_at = clock()
        batch.status = "cancelling"
        batch.times["cancelling"] = int(time.time())
        return _json(batch.wire())  # the next retrieve finds it cancelled

    async def list(self, request: Request) -> Response:
        denied = self.sim._unauthorized(request, counted=False)
        if denied is not None:
            return denied
        newest = [self.advance(b).wire() for b in reversed(self.batches.values())]
        after = request.query_params.get("after")
        if after is not None:
            ids = [b["id"] for b in newest]
            newest = newest[ids.index(after) + 1:] if after in ids else []
        limit = int(request.query_params.get("limit", "20"))
        page = newest[:limit]
        return _json({"object": "list", "data": page,
                      "first_id": page[0]["id"] if page else None,
                      "last_id": page[-1]["id"] if page else None,
                      "has_more": len(newest) > limit})

    async def sim_batches(self, request: Request) -> Response:
        """GET /sim/batches: how many batches were created, and each one's state."""
        return _json({"created": self.created,
                      "batches": [self.advance(b).wire() for b in self.batches.values()]})

    def routes(self) -> list[Route]:
        return [
            Route("/v1/files", self.upload, methods=["POST"]),
            Route("/v1/files/{file_id}", self.file, methods=["GET"]),
            Route("/v1/files/{file_id}/content", self.file_content, methods=["GET"]),
            Route("/v1/batches", self.create, methods=["POST"]),
            Route("/v1/batches", self.list, methods=["GET"]),
            Route("/v1/batches/{batch_id}", self.retrieve, methods=["GET"]),
            Route("/v1/batches/{batch_id}/cancel", self.cancel, methods=["POST"]),
            Route("/sim/batches", self.sim_batches, methods=["GET"]),
        ]


def batch_routes(sim: Simulator) -> list[Route]:
    """The Batch API routes for `sim`, or none when its settings turn the Batch API off (a
    provider without one answers 404 there)."""
    if not sim.settings.batch_api:
        return []
    return BatchService(sim).routes()


def _parse_input(content: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's request lines, or the errors that fail the whole batch (as OpenAI
    does at validation: bad JSON, wrong method or url, duplicate custom_id)."""
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            errors.append({"code": "invalid_json_line", "message": "This line is not valid JSON.",
                           "param": None, "line": number})
            continue
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        problem = None
        if not isinstance(custom_id, str) or not custom_id:
            problem = ("missing_required_parameter", "custom_id is required.")
        elif custom_id in seen:
            problem = ("duplicate_custom_id", f"The custom_id {custom_id!r} appears twice.")
        elif line.get("method") != "POST":
            problem = ("invalid_method", "method must be POST.")
        elif line.get("url") != CHAT_URL:
            problem = ("invalid_url", f"url must be {CHAT_URL}, the batch's endpoint.")
        elif not isinstance(line.get("body"), dict):
            problem = ("missing_required_parameter", "body must be an object.")
        if problem is not None:
            errors.append({"code": problem[0], "message": problem[1], "param": None,
                           "line": number})
            continue
        seen.add(custom_id)  # type: ignore[arg-type]
        lines.append(line)
    if not lines and not errors:
        errors.append({"code": "empty_file", "message": "The input file has no requests.",
                       "param": None, "line": None})
    return lines, errors


def _jsonl(entries: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in entries)


def _draw(seed: int, fp: str, attempt: int) -> float:
    """A uniform draw of its own for `rate_batch_error`, so it leaves the fault plan alone."""
    digest = hashlib.blake2b(f"batch|{seed}|{fp}|{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / float(1 << 64)
