"""Flowyard's configuration: one Settings class, read from ``FLOWYARD_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app import outbound

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Every knob Flowyard has. Each field is the variable ``FLOWYARD_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="FLOWYARD_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Holds the default SQLite file and generated files.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in the data directory.")
    host: str = Field("127.0.0.1", description="Address `flowyard serve` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `flowyard serve` listens on.")
    admin_token: str | None = Field(None, description="A bearer token valid for the API from the first start.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body the API accepts.")
    max_upload_bytes: int = Field(
        52_428_800, ge=1024, description="Largest file upload (batch files, the UI's uploads); other bodies: max_body."
    )
    batch_max_rows: int = Field(100_000, ge=1, description="Most rows a batch file may have.")
    batch_max_concurrency: int = Field(64, ge=1, le=1000, description="Highest concurrency a batch may ask for.")
    batch_poll_seconds: float = Field(
        1.0, gt=0, description="How often a batch's active runs are checked besides listening to their events."
    )
    lease_seconds: float = Field(30.0, gt=0, description="How long a process owns a run without renewing.")
    run_concurrency: int = Field(8, ge=1, description="Nodes of one run that may execute at once.")
    global_concurrency: int = Field(64, ge=1, description="Nodes that may execute at once in this process.")
    recovery_interval_seconds: float = Field(5.0, gt=0, description="How often orphaned runs are looked for.")
    http_timeout_seconds: float = Field(30.0, gt=0, description="Default timeout of outgoing HTTP calls.")
    allow_private_networks: str = Field(
        "",
        description=(
            "Comma-separated CIDRs of non-public networks outbound calls may reach (e.g. 127.0.0.1/32 for a local"
            " model server); default: none. Link-local and cloud metadata addresses are refused even so."
        ),
    )
    session_window: int = Field(
        20, ge=0, le=1000, description="Earlier session messages an llm step sees by default (its history window)."
    )
    storage_secret: str | None = Field(
        None,
        description="Signs the UI's browser-storage cookie; default: a key generated once into the data directory.",
    )
    login_idle_minutes: float = Field(
        720, gt=0, le=525_600, description="A browser login ends after this long without a request."
    )
    login_max_hours: float = Field(168, gt=0, le=8760, description="A browser login ends this long after it began.")
    allowed_hosts: str | None = Field(
        None,
        description=(
            "Comma-separated host names the server answers to (the Host header); default: the bound host,"
            " localhost, 127.0.0.1 and ::1. '*' allows any (only behind a proxy that checks the host itself)."
        ),
    )
    trusted_user_header: str | None = Field(
        None,
        description=(
            "A request header set by an authenticating reverse proxy that names the logged-in user's email"
            " (e.g. X-Forwarded-Email); off by default. Only set it when every request passes that proxy."
        ),
    )
    audit_retention_days: int = Field(365, ge=1, le=36500, description="Audit log entries older than this are deleted.")
    callback_secret: str | None = Field(
        None, description="Signs run callbacks; default: a key generated once into the data directory."
    )
    secret_key: str | None = Field(
        None,
        description="Fernet key that encrypts credentials at rest; default: a key generated into the data directory.",
    )
    callback_max_attempts: int = Field(6, ge=1, le=100, description="Attempts at a callback before giving up.")
    callback_base_delay_seconds: float = Field(
        2.0, ge=0, description="Wait before a callback's second attempt; each later wait doubles."
    )
    callback_max_delay_seconds: float = Field(300.0, ge=0, description="Longest wait between callback attempts.")
    callback_timeout_seconds: float = Field(10.0, gt=0, description="How long one callback attempt may take.")
    callback_concurrency: int = Field(16, ge=1, description="Callback attempts in flight at once in this process.")
    callback_sweep_interval_seconds: float = Field(
        5.0, gt=0, description="How often due callbacks (e.g. left by a stopped process) are looked for."
    )
    scheduler_poll_seconds: float = Field(
        5.0, gt=0, le=3600, description="Longest the scheduler sleeps before looking for schedules changed elsewhere."
    )
    webhook_max_sync_seconds: float = Field(
        300.0, gt=0, le=3600, description="Longest a synchronous webhook may be set to wait for its run to end."
    )
    mcp_wait_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description=(
            "How long a tool call at /mcp waits for its run to end before answering with the run's id (to poll with"
            " flowyard_run_status); also the longest wait a call may ask for."
        ),
    )

    @field_validator("admin_token")
    @classmethod
    def _refuse_weak_token(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("FLOWYARD_ADMIN_TOKEN must be at least 16 characters")
        return value

    @field_validator("allow_private_networks")
    @classmethod
    def _refuse_malformed_networks(cls, value: str) -> str:
        try:
            outbound.parse_networks(value)
        except ValueError as exc:
            raise ValueError(f"FLOWYARD_ALLOW_PRIVATE_NETWORKS: {exc}") from None
        return value

    @field_validator("callback_secret")
    @classmethod
    def _refuse_weak_callback_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("FLOWYARD_CALLBACK_SECRET must be at least 16 characters")
        return value

    @field_validator("secret_key")
    @classmethod
    def _refuse_malformed_secret_key(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Fernet(value)
            except (ValueError, TypeError):
                raise ValueError(
                    "FLOWYARD_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes); make one with "
                    '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
                ) from None
        return value

    @property
    def hosts(self) -> frozenset[str]:
        """The Host names the server answers to (lower-case, without port); contains '*' to allow any."""
        if self.allowed_hosts:
            return frozenset(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())
        return frozenset({self.host.lower(), "localhost", "127.0.0.1", "::1", "[::1]"})

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'flowyard.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
