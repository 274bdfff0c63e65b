"""Webhooks: a secret URL per workflow that starts a run with the request's JSON body as its input.

A webhook answers in one of two modes: "async" answers at once with the new run's id; "sync" waits
up to its timeout for the run to end and answers with the output (a run still going, or paused for an
approval, is answered with its id so the caller can poll).

The secret in the URL is the only credential. It is stored twice: as its SHA-256 digest, which
requests are looked up by (a unique index) and compared with in constant time, and encrypted with the
vault, so the owner can see the URL again. It is never logged. Rotating replaces it; the old URL stops
working at once. An unknown secret and a disabled webhook get the same answer, and neither starts a
run; nor does a body over the webhook's limit, one that is not JSON, or one that does not fit the
workflow's input schema.

FlowyardError
├── NoWebhook              no enabled webhook has this secret (unknown, rotated away or disabled)
└── InvalidInput
    ├── BodyTooLarge       the body is over the webhook's limit (`.limit`, in bytes)
    └── BodyNotJson        the body is not JSON (`.reason`)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NoReturn, Protocol, cast, get_args

import sqlalchemy as sa
from sqlmodel import Session

from app.engine.exceptions import AgentError, FlowyardError, InvalidInput, NotFound
from app.engine.model import RunRecord, RunStatus, Trigger
from app.engine.store import RunStore
from app.models.webhooks import Mode, WebhookPublic
from app.services.credentials import Vault
from app.services.workflows import find_workflow
from storage import webhooks as webhook_repo
from storage.db import Database
from storage.models import WebhookRow

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_SYNC_TIMEOUT_SECONDS",
    "HOOKS_PATH",
    "MODES",
    "BodyNotJson",
    "BodyTooLarge",
    "NoWebhook",
    "RunStarter",
    "WebhookCall",
    "WebhookService",
    "new_secret",
    "parse_body",
]

log = logging.getLogger("flowyard.webhooks")

MODES: Final[tuple[str, ...]] = get_args(Mode)
HOOKS_PATH: Final = "/api/hooks"
"""Where webhook URLs live: `/api/hooks/<secret>`."""
DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024
"""A new webhook's body limit (or FLOWYARD_MAX_BODY_BYTES when that is lower)."""
DEFAULT_SYNC_TIMEOUT_SECONDS: Final = 30.0
MAX_SESSION_ID_LENGTH: Final = 200


def new_secret() -> str:
    """A webhook URL's secret: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class NoWebhook(FlowyardError):
    """No enabled webhook has this secret. Unknown, rotated away and disabled look the same to the caller."""

    def __init__(self) -> None:
        super().__init__("No webhook at this address")


class BodyTooLarge(InvalidInput):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__("body", f"larger than this webhook's limit of {limit} bytes")


class BodyNotJson(InvalidInput):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__("body", f"must be JSON: {reason}")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def parse_body(body: bytes) -> Any:
    """The JSON value of a request body; an empty (or all-whitespace) body is `None` (JSON null)."""
    if not body.strip():
        return None
    try:
        return json.loads(body.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise BodyNotJson("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BodyNotJson(f"invalid at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # NaN, Infinity: Python reads them, JSON (and PostgreSQL) does not
        raise BodyNotJson(str(exc)) from None
    except RecursionError:
        raise BodyNotJson("nested too deeply") from None


@dataclass(frozen=True)
class WebhookCall:
    """What a call to a webhook started, and (for a sync webhook) how far the run got while the caller waited."""

    run_id: str
    workflow_id: str
    session_id: str | None
    mode: Mode
    status: RunStatus
    output: Any = None
    error: str | None = None

    @property
    def ended(self) -> bool:
        """COMPLETED, FAILED or CANCELLED: nothing more will happen to the run."""
        return self.status.is_terminal

    @classmethod
    def of(cls, run: RunRecord, mode: Mode) -> WebhookCall:
        return cls(
            run_id=run.id,
            workflow_id=run.workflow_id,
            session_id=run.session_id,
            mode=mode,
            status=run.status,
            output=run.output,
            error=run.error,
        )


class RunStarter(Protocol):
    """What webhooks need of the runs service (`app.services.runs.RunService`)."""

    async def start(
        self,
        workflow_id: str,
        *,
        input: Any,
        session_id: str | None = None,
        trigger: Trigger = Trigger.API,
        input_field: str = "input",
    ) -> RunRecord: ...


class RunWaiter(Protocol):
    """`Executor.wait`: until this process stops driving the run (it ended, paused or moved)."""

    async def wait(self, run_id: str, *, timeout: float | None = None) -> RunRecord | None: ...


class WebhookService:
    """Each workflow's webhook trigger: set it up, rotate its secret, and answer calls to its URL."""

    def __init__(
        self,
        db: Database,
        store: RunStore,
        runs: RunStarter,
        executor: RunWaiter,
        vault: Vault,
        *,
        max_body_bytes: int,
        max_sync_seconds: float,
        now: Callable[[], datetime],
        poll_seconds: float = 0.25,
    ) -> None:
        self._db = db
        self._store = store
        self._runs = runs
        self._executor = executor
        self.vault = vault
        self._max_body_bytes = max_body_bytes
        self._max_sync_seconds = max_sync_seconds
        self._now = now
        self._poll = poll_seconds

    # --- the owner's side ---------------------------------------------------------------------------------

    async def get(self, workflow_id: str) -> WebhookPublic | None:
        """The workflow's webhook, or None when it has none (NotFound: no such workflow)."""

        def read(session: Session) -> WebhookRow | None:
            find_workflow(session, workflow_id)
            return webhook_repo.get_webhook(session, workflow_id=workflow_id)

        row = await self._db.tx(read)
        return None if row is None else self._info(row)

    async def save(
        self,
        workflow_id: str,
        *,
        enabled: bool = True,
        mode: str = "async",
        sync_timeout_seconds: float = DEFAULT_SYNC_TIMEOUT_SECONDS,
        max_body_bytes: int | None = None,
    ) -> WebhookPublic:
        """Create the workflow's webhook (with a new secret) or change its settings (keeping its secret).

        `max_body_bytes` None: 256 KiB, or FLOWYARD_MAX_BODY_BYTES when that is lower. InvalidInput names
        the first setting out of range (by its API name); nothing is written then.
        """
        checked_mode = self._check_mode(mode)
        timeout = self._check_timeout(sync_timeout_seconds)
        limit = self._check_limit(max_body_bytes)
        now = self._now()

        def save(session: Session) -> WebhookRow:
            find_workflow(session, workflow_id)
            row = webhook_repo.get_webhook(session, workflow_id=workflow_id)
            if row is None:
                secret = new_secret()
                row = WebhookRow(
                    workflow_id=workflow_id,
                    secret_hash=_digest(secret),
                    secret=self._seal(secret),
                    max_body_bytes=limit,
                    created_at=now,
                )
            row.enabled = enabled
            row.mode = checked_mode
            row.sync_timeout_seconds = timeout
            row.max_body_bytes = limit
            row.updated_at = now
            session.add(row)
            return row

        try:
            row = await self._db.tx(save)
        except sa.exc.IntegrityError:
            # Two first saves raced and the other one created it: this one is an update now.
            row = await self._db.tx(save)
        return self._info(row)

    async def rotate(self, workflow_id: str) -> WebhookPublic:
        """Give the webhook a new secret: the old URL stops working at once."""
        now = self._now()

        def rotate(session: Session) -> WebhookRow:
            row = self._webhook(session, workflow_id)
            secret = new_secret()
            row.secret_hash = _digest(secret)
            row.secret = self._seal(secret)
            row.rotated_at = row.updated_at = now
            session.add(row)
            return row

        return self._info(await self._db.tx(rotate))

    async def delete(self, workflow_id: str) -> None:
        """Delete the workflow's webhook: its URL stops working (NotFound when it has none)."""

        def delete(session: Session) -> None:
            self._webhook(session, workflow_id)
            webhook_repo.delete_webhook(session, workflow_id=workflow_id)

        await self._db.tx(delete)

    # --- the caller's side ---------------------------------------------------------------------------------

    async def call(self, secret: str, body: bytes, *, session_id: str | None = None) -> WebhookCall:
        """Start a run of the webhook's workflow with `body` (JSON; empty is null) as its input.

        A sync webhook then waits for the run to end or pause, up to its timeout, and reports how far it
        got. Raises NoWebhook, BodyTooLarge, BodyNotJson, InvalidInput (`sessionId`), InputInvalid (the
        body does not fit the workflow's input schema) or WorkflowInvalid; none of them starts a run.
        """
        row = await self._enabled(secret)
        if len(body) > row.max_body_bytes:
            raise BodyTooLarge(row.max_body_bytes)
        payload = parse_body(body)
        if session_id is not None and not 0 < len(session_id) <= MAX_SESSION_ID_LENGTH:
            raise InvalidInput("sessionId", f"must be 1 to {MAX_SESSION_ID_LENGTH} characters")
        mode = row.mode
        run = await self._runs.start(
            row.workflow_id, input=payload, session_id=session_id, trigger=Trigger.WEBHOOK, input_field=""
        )
        await self._db.tx(lambda s: webhook_repo.touch_webhook(s, workflow_id=row.workflow_id, at=self._now()))
        log.info("webhook of workflow %s started run %s (%s)", row.workflow_id, run.id, mode)
        if mode == "async":
            return WebhookCall.of(run, mode)
        # A webhook saved before FLOWYARD_WEBHOOK_MAX_SYNC_SECONDS was lowered waits no longer than it allows now.
        timeout = min(row.sync_timeout_seconds, self._max_sync_seconds)
        return WebhookCall.of(await self._outcome(run, timeout), mode)

    async def status(self, secret: str, run_id: str) -> WebhookCall:
        """A run this webhook started, as it stands now (NotFound for any other run)."""
        row = await self._enabled(secret)
        run = await self._store.get_run(run_id)
        if run is None or run.workflow_id != row.workflow_id or run.trigger is not Trigger.WEBHOOK:
            raise NotFound("run", run_id)
        return WebhookCall.of(run, row.mode)

    async def _enabled(self, secret: str) -> WebhookRow:
        digest = _digest(secret)
        row = await self._db.tx(lambda s: webhook_repo.find_webhook(s, secret_hash=digest))
        if row is None or not hmac.compare_digest(row.secret_hash, digest) or not row.enabled:
            raise NoWebhook()
        return row

    async def _outcome(self, run: RunRecord, timeout: float) -> RunRecord:
        """The run once it ended or paused, or as it stands when `timeout` seconds have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with contextlib.suppress(TimeoutError):
            await self._executor.wait(run.id, timeout=timeout)
        current = await self._store.get_run(run.id) or run
        # Still going although this process stopped driving it: another process took it over. Poll the store.
        while current.status in (RunStatus.QUEUED, RunStatus.RUNNING) and (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(self._poll, left))
            current = await self._store.get_run(run.id) or current
        return current

    # --- helpers -------------------------------------------------------------------------------------------

    def _webhook(self, session: Session, workflow_id: str) -> WebhookRow:
        find_workflow(session, workflow_id)
        row = webhook_repo.get_webhook(session, workflow_id=workflow_id)
        if row is None:
            raise NotFound("webhook for workflow", workflow_id)
        return row

    def _seal(self, secret: str) -> bytes:
        return self.vault.seal({"secret": secret})

    def _info(self, row: WebhookRow) -> WebhookPublic:
        try:
            secret: str | None = self.vault.open("webhook", row.secret)["secret"]
        except AgentError:
            log.warning("the webhook of workflow %s cannot be decrypted with this secret key", row.workflow_id)
            secret = None
        return WebhookPublic.model_validate(
            {**row.model_dump(), "secret": secret, "path": None if secret is None else f"{HOOKS_PATH}/{secret}"}
        )

    @staticmethod
    def _check_mode(mode: str) -> Mode:
        if mode not in MODES:
            raise InvalidInput("mode", f"must be one of {', '.join(MODES)}, not {mode!r}")
        return cast(Mode, mode)

    def _check_timeout(self, seconds: float) -> float:
        longest = self._max_sync_seconds
        if not 0 < seconds <= longest:
            raise InvalidInput(
                "syncTimeoutSeconds", f"must be more than 0 and at most {longest:g} (FLOWYARD_WEBHOOK_MAX_SYNC_SECONDS)"
            )
        return float(seconds)

    def _check_limit(self, max_body_bytes: int | None) -> int:
        largest = self._max_body_bytes
        if max_body_bytes is None:
            return min(DEFAULT_MAX_BODY_BYTES, largest)
        if not 1 <= max_body_bytes <= largest:
            raise InvalidInput("maxBodyBytes", f"must be 1 to {largest} bytes (FLOWYARD_MAX_BODY_BYTES)")
        return max_body_bytes
