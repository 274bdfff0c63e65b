"""http: one HTTP request with templated URL, headers and body, through the shared client.

Auth comes from a credential named in the config; the body is sent as JSON, a form or text; the
response is parsed as JSON or text; the statuses in `fail_on_status` fail the node. Every failure
is an `AgentError` whose message says what to do, never a traceback:

- a destination the outbound policy refuses (`app.outbound`) is final, and the message names the rule;
- a refused connection, a timeout, a dropped or truncated response, 408, 425, 429 and 5xx are
  retryable: the engine retries the node (its `retries`, with backoff). On 429 and 503 the server's
  `Retry-After` (seconds or an HTTP date) travels as `AgentError.retry_after`, and the executor waits
  at least that long (up to its longest backoff) before the next attempt;
- 401 and 403 name the credential to check; other failing statuses and malformed bodies are final.

Secrets never leave: the credential's values are removed from outputs and error messages, in case
the far end echoes them, and a redirect to another origin is followed without the credential.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from app import clock, outbound
from app.agents.base import AgentContext, AgentKind, Credential, Group
from app.engine.exceptions import AgentError

__all__ = ["Http", "Request", "authorize", "parse_body", "retry_after", "send"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
RETRYABLE_STATUSES = frozenset({408, 425, 429})
_STATUS_RANGE = re.compile(r"([1-5]\d\d)(?:-([1-5]\d\d))?")
_SNIPPET = 300
_SECRET_FIELDS = frozenset({"token", "password", "value"})  # a username or a header's name is no secret
_MIN_SECRET_LENGTH = 4  # shorter values are too likely to occur by chance to be worth hiding


class Request:
    """One outgoing call, described for `send` and its messages."""

    def __init__(self, method: str, url: str, *, shown_url: str | None = None, credential: Credential | None = None):
        self.method = method
        self.url = url
        self.shown = shown_url or url
        """The URL as messages show it (a notify webhook's path is a secret of its own)."""
        self.credential = credential
        self.secrets = _secret_values(credential)

    def redact(self, value: Any) -> Any:
        """`value` with every secret of the credential replaced by '***'."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        return value

    def error(self, message: str, *, retryable: bool = True, retry_after: float | None = None) -> AgentError:
        return AgentError(self.redact(message), retryable=retryable, retry_after=retry_after)


def _secret_values(credential: Credential | None) -> list[str]:
    if credential is None:
        return []
    values = [v for k, v in credential.values.items() if k in _SECRET_FIELDS and len(v) >= _MIN_SECRET_LENGTH]
    if credential.type == "basic":
        pair = f"{credential.values['username']}:{credential.values['password']}"
        values.append(base64.b64encode(pair.encode()).decode())  # as it travels in the Authorization header
    return sorted(values, key=len, reverse=True)


async def resolve_credential(ctx: AgentContext, name: str | None) -> Credential | None:
    if not name:
        return None
    if ctx.services.credentials is None:
        raise AgentError(f"credential '{name}' cannot be used here: no credential store is configured", retryable=False)
    return await ctx.services.credentials.get(name)


def authorize(headers: dict[str, str], credential: Credential | None) -> tuple[str, ...]:
    """Apply `credential` to `headers`; returns the names of the headers that carry it."""
    if credential is None:
        return ()
    values = credential.values
    if credential.type == "header":
        headers[values["name"]] = values["value"]
        return (values["name"],)
    if credential.type == "basic":
        pair = f"{values['username']}:{values['password']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:  # api_key, bearer
        headers["Authorization"] = f"Bearer {values['token']}"
    return ("Authorization",)


def retry_after(response: httpx.Response) -> float | None:
    """The wait a 429 or 503 asks for, in seconds (from delta-seconds or an HTTP date); None when it asks none."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - clock.now()).total_seconds())


async def send(
    ctx: AgentContext,
    request: Request,
    *,
    headers: dict[str, str],
    content: bytes | None = None,
    data: dict[str, str] | None = None,
    timeout: float,
    fail_on: Iterable[tuple[int, int]] = ((400, 599),),
) -> httpx.Response:
    """Send `request`; a network failure or a status within `fail_on` raises an AgentError a user can act on.

    Redirects are followed, without the credential from the first one that leads to another origin on.
    """
    carrying = authorize(headers, request.credential)
    where = request.shown
    try:
        built = ctx.http.build_request(
            request.method, request.url, headers=headers, content=content, data=data, timeout=timeout
        )
        response = await outbound.send(ctx.http, built, credential_headers=carrying)
    except httpx.TimeoutException:
        raise request.error(f"{request.method} {where} did not answer within {timeout:g} s") from None
    except outbound.DestinationRefused as exc:
        raise request.error(str(exc), retryable=False) from None
    except httpx.ConnectError as exc:
        if "refused" in str(exc).lower() or "all connection attempts failed" in str(exc).lower():
            raise request.error(f"{where} refused the connection: is the server running at that address?") from None
        raise request.error(f"{where} could not be reached: {exc}") from None
    except httpx.RemoteProtocolError as exc:
        if "without sending a response" in str(exc):
            raise request.error(
                f"{request.method} {where}: the server closed the connection without answering"
            ) from None
        raise request.error(
            f"{request.method} {where}: the response was cut off or malformed ({exc}); the server may have crashed "
            "mid-answer"
        ) from None
    except httpx.HTTPError as exc:
        raise request.error(f"{request.method} {where} failed: {str(exc) or type(exc).__name__}") from None
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise request.error(f"{request.method} {where} answered more than {MAX_RESPONSE_BYTES} bytes", retryable=False)
    status = response.status_code
    if any(low <= status <= high for low, high in fail_on):
        raise _status_error(request, response)
    return response


def _status_error(request: Request, response: httpx.Response) -> AgentError:
    status, where = response.status_code, request.shown
    snippet = response.text[:_SNIPPET].strip()
    detail = f": {snippet}" if snippet else ""
    if status in (401, 403):
        if request.credential is not None:
            hint = f"check credential '{request.credential.name}'"
        else:
            hint = "the endpoint wants credentials: name one in the agent's 'credential' setting"
        return request.error(f"{status} from {where} — {hint}{detail}", retryable=False)
    wait = retry_after(response) if status in (429, 503) else None
    asked = f" (it asked to wait {wait:g} s)" if wait is not None else ""
    if status == 429:
        return request.error(
            f"{request.method} {where} answered 429 Too Many Requests{asked}: slow down, or raise the step's retries",
            retry_after=wait,
        )
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    return request.error(
        f"{request.method} {where} answered {status}{asked}{detail}", retryable=retryable, retry_after=wait
    )


def parse_body(request: Request, response: httpx.Response, mode: Literal["auto", "json", "text"]) -> Any:
    """The response body: JSON when `mode` says so or, for "auto", when its content type does; else text."""
    is_json = "json" in response.headers.get("content-type", "").lower()
    if mode == "text" or (mode == "auto" and not is_json):
        return response.text
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        start = response.text[:80].strip()
        raise request.error(
            f"{request.method} {request.shown} answered a body that is not valid JSON ({exc}); it starts {start!r}. "
            "Set 'response' to 'text' to take it as text",
            retryable=True,
        ) from None


def _default_failing_statuses() -> list[int | str]:
    return ["400-599"]


def _ranges(value: list[int | str]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for item in value:
        match = _STATUS_RANGE.fullmatch(str(item).strip())
        if match is None:
            raise ValueError(f"{item!r} is not a status code (404) or a range of them (500-599)")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise ValueError(f"{item!r}: the range ends before it starts")
        found.append((low, high))
    return found


class Http(AgentKind):
    kind: ClassVar[str] = "http"
    title: ClassVar[str] = "HTTP request"
    group: ClassVar[str] = Group.INTEGRATIONS
    icon: ClassVar[str] = "http"
    description: ClassVar[str] = (
        "Calls a URL. Method, URL, headers and body are templates. The action may be a shorthand "
        "'METHOD URL' when no URL is configured. Output: status, headers and the parsed body."
    )

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "POST"
    url: str = Field("", description="Target URL (a template).")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers (templates).")
    credential: str | None = Field(
        None,
        description="Name of a credential: api_key and bearer send 'Authorization: Bearer', basic sends basic auth, "
        "header sends its own header.",
        json_schema_extra={"format": "credential"},
    )
    body: Any = Field(None, description="Body (templates inside); empty sends the step's input.")
    body_type: Literal["json", "form", "text"] = Field(
        "json",
        description="json: the body as JSON (a string body is sent as text); form: an object as "
        "application/x-www-form-urlencoded; text: the body as plain text.",
    )
    response: Literal["auto", "json", "text"] = Field(
        "auto", description="How to read the answer: auto (JSON when its content type says so), json or text."
    )
    fail_on_status: list[int | str] = Field(
        default_factory=_default_failing_statuses,
        description="Statuses that fail the step: codes (404) or ranges ('500-599'). Empty: none does.",
    )
    timeout_seconds: float = Field(30.0, gt=0, le=3600)

    @field_validator("fail_on_status")
    @classmethod
    def _valid_statuses(cls, value: list[int | str]) -> list[int | str]:
        _ranges(value)
        return value

    def _target(self, ctx: AgentContext) -> tuple[str, str]:
        method: str = self.method
        url = self.url
        if not url and ctx.action.strip():
            parts = ctx.action.strip().split(None, 1)
            if len(parts) == 2 and parts[0].upper() in METHODS:
                method, url = parts[0].upper(), parts[1]
            else:
                url = parts[0]
        if not url:
            raise AgentError("http needs a URL: set config.url or an action like 'POST https://…'", retryable=False)
        rendered = ctx.render(url)
        if not isinstance(rendered, str) or not rendered.startswith(("http://", "https://")):
            raise AgentError(f"http URL must start with http:// or https://, got {rendered!r}", retryable=False)
        if not urlsplit(rendered).hostname:
            raise AgentError(f"http URL {rendered!r} names no host", retryable=False)
        return method, rendered

    def _body(self, method: str, headers: dict[str, str], body: Any) -> tuple[bytes | None, dict[str, str] | None]:
        if method in ("GET", "HEAD", "DELETE") or body is None:
            return None, None
        if self.body_type == "form":
            if not isinstance(body, dict):
                raise AgentError(
                    f"body_type 'form' needs an object (field: value), got {type(body).__name__}", retryable=False
                )
            return None, {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        if isinstance(body, str | bytes):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return (body.encode() if isinstance(body, str) else body), None
        if self.body_type == "text":
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            headers.setdefault("Content-Type", "application/json")
        return json.dumps(body).encode(), None

    async def run(self, ctx: AgentContext) -> Any:
        method, url = self._target(ctx)
        headers = {str(k): str(v) for k, v in ctx.render(self.headers).items()}
        headers.setdefault("Idempotency-Key", ctx.idempotency_key)
        body = ctx.render(self.body) if self.body is not None else ctx.input
        content, form = self._body(method, headers, body)
        request = Request(method, url, credential=await resolve_credential(ctx, self.credential))
        response = await send(
            ctx,
            request,
            headers=headers,
            content=content,
            data=form,
            timeout=self.timeout_seconds,
            fail_on=_ranges(self.fail_on_status),
        )
        parsed = parse_body(request, response, self.response)
        return request.redact({"status": response.status_code, "headers": dict(response.headers), "body": parsed})
