"""The composition root: one `Flowyard` per process builds storage, the engine and every service, and runs them.

Nothing else builds services or hands them to each other: each service takes only what it needs (the
database, the run store, the executor, the event bus, another service behind a small protocol), and
the pages, the API and the CLI reach them as attributes of the `Flowyard` they are given
(`app.services.container.Services` says which). No feature module imports this one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from app import clock, keys, outbound, periodic
from app.agents import registry
from app.engine.callbacks import CallbackDispatcher, CallbackPolicy
from app.engine.events import EventBus, InProcessEventBus
from app.engine.executor import Executor
from app.engine.kinds import AgentServices
from app.services.agent_runs import AgentRunService
from app.services.agent_tools import AgentTools
from app.services.agents import AgentService
from app.services.approvals import ApprovalService
from app.services.approvers import ApproverRules
from app.services.audit import AuditService
from app.services.batches.batches import BatchService
from app.services.batches.runner import BatchRunner
from app.services.callback_secrets import CallbackSecrets
from app.services.credentials import CredentialService, StoredCredentials, Vault
from app.services.drafts import DraftService
from app.services.examples import ExampleService
from app.services.inputs import InputService
from app.services.instance import PRUNE_SECONDS, REFRESH_SECONDS, InstanceService
from app.services.logins import LoginService
from app.services.mcp import McpService
from app.services.people import UserService
from app.services.runs import RunService
from app.services.schedules.schedules import ScheduleService
from app.services.sessions import SessionService
from app.services.subworkflows import SubWorkflowService
from app.services.tokens import TokenService
from app.services.webhooks import WebhookService
from app.services.workflow_tools import WorkflowToolService
from app.services.workflows import WorkflowService
from app.settings import Settings
from storage.db import Database, migrate
from storage.run_store import SqlRunStore
from storage.sessions import SqlSessionMemory

__all__ = ["Flowyard"]

AUDIT_PRUNE_SECONDS = 86_400.0


class Flowyard:
    """Storage, the executor and every service of one process, wired from `Settings`."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        http: httpx.AsyncClient,
        bus: EventBus | None = None,
        now: Callable[[], datetime] = clock.now,
        sleep: clock.Sleep = clock.sleep,
    ) -> None:
        self.settings = settings
        self.db = db
        self._pruning: list[asyncio.Task[None]] = []
        self.http = http
        self.bus: EventBus = bus or InProcessEventBus()
        self.store = SqlRunStore(db)
        kinds = registry.KINDS
        self.executor = Executor(
            self.store,
            kinds=kinds,
            http=http,
            bus=self.bus,
            lease_seconds=settings.lease_seconds,
            run_concurrency=settings.run_concurrency,
            global_concurrency=settings.global_concurrency,
            recovery_interval=settings.recovery_interval_seconds,
            now=now,
            sleep=sleep,
        )
        self.audit = AuditService(db, now=now, retention_days=settings.audit_retention_days)
        vault = Vault(keys.secret_key(settings))
        shared_secret = keys.callback_secret(settings)
        self.callback_secrets = CallbackSecrets(db, vault, self.audit, shared=shared_secret)
        self.callbacks = CallbackDispatcher(
            self.store,
            http=http,
            secret=shared_secret,
            secret_for=self.callback_secrets.secret_for,
            owner=self.executor.owner,
            policy=CallbackPolicy(
                max_attempts=settings.callback_max_attempts,
                base_delay=settings.callback_base_delay_seconds,
                max_delay=settings.callback_max_delay_seconds,
                timeout=settings.callback_timeout_seconds,
                concurrency=settings.callback_concurrency,
                sweep_interval=settings.callback_sweep_interval_seconds,
            ),
            bus=self.bus,
            now=now,
        )
        lend = self._agent_services
        self.users = UserService(db, self.audit, now=now)
        self.logins = LoginService(
            db,
            self.users,
            self.audit,
            now=now,
            idle=timedelta(minutes=settings.login_idle_minutes),
            lifetime=timedelta(hours=settings.login_max_hours),
        )
        self.tokens = TokenService(db, self.audit, now=now, admin_token=settings.admin_token)
        self.approvers = ApproverRules(db, self.audit)
        self.approvals = ApprovalService(db, self.store, self.executor, self.approvers, self.audit)
        self.workflows = WorkflowService(
            db, self.store, self.audit, kinds=kinds, max_import_bytes=settings.max_body_bytes, now=now
        )
        self.runs = RunService(db, self.store, self.executor, self.audit, kinds=kinds, now=now)
        self.instance = InstanceService(db, self.runs, self.audit, settings, now=now)
        self.agents = AgentService(db, kinds=kinds, http=http, agent_services=lend, now=now)
        self.agent_runs = AgentRunService(db, self.runs, now=now)
        self.credentials = CredentialService(db, vault, self.audit, now=now)
        self.mcp = McpService(
            db,
            vault,
            self.audit,
            StoredCredentials(db, vault),
            policy=outbound.DestinationPolicy.allowing(settings.allow_private_networks),
            now=now,
        )
        self.sessions = SessionService(db)
        self.examples = ExampleService(self.workflows)
        self.inputs = InputService(db, self.store, self.audit, kinds=kinds)
        self.drafts = DraftService(
            db, kinds=kinds, http=http, agent_services=lend, agents=self.agents, workflows=self.workflows
        )
        self.subworkflows = SubWorkflowService(self.runs, self.store, self.bus)
        self.workflow_tools = WorkflowToolService(
            db, self.store, self.runs, self.inputs, self.executor, max_wait_seconds=settings.mcp_wait_seconds
        )
        self.schedules = ScheduleService(
            db,
            self.runs,
            self.bus,
            kinds=kinds,
            poll_seconds=settings.scheduler_poll_seconds,
            now=now,
            default_zone=lambda: self.instance.defaults.time_zone,
        )
        self.webhooks = WebhookService(
            db,
            self.store,
            self.runs,
            self.executor,
            vault,
            max_body_bytes=settings.max_body_bytes,
            max_sync_seconds=settings.webhook_max_sync_seconds,
            now=now,
        )
        runner = BatchRunner(
            db,
            self.executor,
            self.bus,
            now=now,
            lease_seconds=settings.lease_seconds,
            poll_seconds=settings.batch_poll_seconds,
        )
        self.batches = BatchService(
            db,
            runner,
            self.runs,
            kinds=kinds,
            max_rows=settings.batch_max_rows,
            max_concurrency=settings.batch_max_concurrency,
            now=now,
        )
        # What agents may use while they run: credentials, session memory, other workflows as steps.
        self.executor.services = AgentServices(
            credentials=StoredCredentials(db, vault),
            sessions=SqlSessionMemory(db, window=settings.session_window, now=now),
            workflows=self.subworkflows,
            mcp=self.mcp,
            tools=AgentTools(db, self.store, self.inputs, kinds=kinds),
        )

    def _agent_services(self) -> AgentServices:
        return self.executor.services

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = clock.now,
        sleep: clock.Sleep = clock.sleep,
    ) -> Flowyard:
        """Connect, migrate and seed the default agents. Call `start()` to begin executing runs."""
        db = Database.from_url(settings.resolved_database_url)
        migrate(db.engine)
        policy = outbound.DestinationPolicy.allowing(settings.allow_private_networks)
        client = http or outbound.client(policy, timeout=settings.http_timeout_seconds)
        flowyard = cls(settings, db, http=client, now=now, sleep=sleep)
        flowyard.agents.seed(list(registry.PLUGIN_KINDS))
        return flowyard

    async def start(self) -> None:
        # The audit log is kept for FLOWYARD_AUDIT_RETENTION_DAYS, runs for the instance's retention: older
        # entries and runs go, at start and then daily. The instance's defaults are read again now and then,
        # for changes made by other processes.
        await self.instance.refresh()
        self._pruning = [
            asyncio.create_task(
                periodic.every(AUDIT_PRUNE_SECONDS, self.audit.prune, first=True, what="pruning the audit log")
            ),
            asyncio.create_task(
                periodic.every(PRUNE_SECONDS, self.instance.prune_by_retention, first=True, what="pruning old runs")
            ),
            asyncio.create_task(
                periodic.every(REFRESH_SECONDS, self.instance.refresh, what="reading the instance settings")
            ),
        ]
        await self.executor.start()
        await self.batches.start()
        await self.callbacks.start()
        await self.schedules.start()

    async def close(self) -> None:
        for task in self._pruning:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.schedules.close()
        await self.batches.stop()
        await self.callbacks.stop()
        await self.executor.stop()
        await self.mcp.close()
        await self.http.aclose()
        await self.db.drain()  # work a stopped task left in a thread still holds a connection
        self.db.dispose()
