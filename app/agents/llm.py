"""llm: a chat completion against any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio, llama.cpp).

The step's action (a template) is the instruction and its input the content: the user message is
the instruction followed by the input (text as it is, anything else as JSON). With a session, the
session's earlier messages come first and the new exchange is kept after. With `json_schema`, the
answer must be JSON valid against it; an invalid answer is sent back with what is wrong, up to
`json_retries` times. Streaming shows the answer on live pages as it arrives. Token usage is the
server's own count when it reports one, else an estimate marked ``estimated``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from pydantic import Field

from app import outbound
from app.agents.base import AgentContext, AgentKind, AgentResult, Group
from app.engine import inputs  # module import: inputs imports the registry, which imports this kind
from app.engine.exceptions import AgentError

__all__ = ["Answer", "Llm", "Message"]

MAX_RETRY_AFTER_SECONDS = 60.0
MAX_ANSWER_BYTES = 10 * 1024 * 1024
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)

Usage = dict[str, Any]
Message = dict[str, Any]


@dataclass
class Answer:
    """One chat completion: its text, its token usage and the tools it calls ({"id", "name", "arguments"} each,
    the arguments as the model wrote them: JSON text, not yet parsed)."""

    text: str
    usage: Usage
    tool_calls: list[dict[str, str]] = field(default_factory=list)


class Llm(AgentKind):
    kind: ClassVar[str] = "llm"
    title: ClassVar[str] = "LLM"
    group: ClassVar[str] = Group.AI
    icon: ClassVar[str] = "psychology"
    description: ClassVar[str] = (
        "Asks a chat model (any OpenAI-compatible endpoint: OpenAI, Ollama, vLLM, LM Studio…). The action is "
        "the instruction, the input the content. Output: the answer, or JSON valid against a schema."
    )

    base_url: str = Field("https://api.openai.com/v1", title="Base URL", description="The endpoint's base URL (…/v1).")
    model: str = Field("gpt-4o-mini", min_length=1, description="The model name the endpoint knows.")
    credential: str | None = Field(
        None,
        description="Name of the stored credential holding the API key; none for local servers.",
        json_schema_extra={"format": "credential"},
    )
    system_prompt: str = Field("", description="The system message (a template).")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, description="Most tokens the answer may take.")
    stream: bool = Field(True, description="Show the answer on live pages as it arrives.")
    json_schema: dict[str, Any] | None = Field(
        None,
        title="JSON schema of the answer",
        description="When set, the answer must be JSON valid against this JSON Schema.",
    )
    json_retries: int = Field(2, ge=0, le=10, description="Times an invalid JSON answer is sent back to be fixed.")
    history_messages: int | None = Field(
        None,
        ge=0,
        le=1000,
        description="Earlier session messages shown to the model (0: none, not kept either); "
        "default: FLOWYARD_SESSION_WINDOW.",
    )
    max_run_tokens: int | None = Field(
        None, ge=1, description="Token budget of the whole run: this step fails once the run has used more."
    )
    retries: int = Field(2, ge=0, le=10, description="Retries of a rate-limited (429) or failing (5xx) request.")
    retry_backoff_seconds: float = Field(
        2.0, ge=0, le=60, description="Wait before a retry (doubling), unless the server sends Retry-After."
    )
    timeout_seconds: float = Field(120.0, gt=0, le=3600, description="How long one request may take.")

    @property
    def _endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    async def run(self, ctx: AgentContext) -> AgentResult:
        self._check_budget(ctx.run_tokens, None)
        messages = await self._messages(ctx)
        headers, secrets = await self._headers(ctx)
        try:
            return await self._ask(ctx, messages, headers)
        except AgentError as exc:
            message = str(exc)
            if not any(secret in message for secret in secrets):
                raise
            for secret in secrets:  # a server may echo the key it refused: never let it reach the run record
                message = message.replace(secret, "***")
            raise AgentError(message, retryable=exc.retryable, usage=exc.usage, retry_after=exc.retry_after) from None

    async def _ask(self, ctx: AgentContext, messages: list[Message], headers: dict[str, str]) -> AgentResult:
        usage: Usage = {}
        first = await self._complete(ctx, messages, headers)
        answer, usage = first.text, _add(usage, first.usage)
        output: Any = answer
        if self.json_schema is not None:
            conversation = list(messages)
            for attempt in range(self.json_retries + 1):
                output, problem = _parse_json(answer, self.json_schema)
                if problem is None:
                    break
                if attempt == self.json_retries:
                    raise AgentError(
                        f"the model's answer is not JSON valid against the schema after {attempt + 1} "
                        f"attempt(s): {problem}",
                        retryable=False,
                        usage=usage,
                    )
                conversation += [
                    {"role": "assistant", "content": answer},
                    {
                        "role": "user",
                        "content": f"That answer is not valid: {problem}. Answer again with only the JSON, "
                        "valid against the schema.",
                    },
                ]
                again = await self._complete(ctx, conversation, headers, usage_so_far=usage)
                answer, usage = again.text, _add(usage, again.usage)
        self._check_budget(ctx.run_tokens, usage)
        await self._remember(ctx, messages[-1]["content"], answer)
        return AgentResult(output=output, usage=usage)

    # --- the conversation ---------------------------------------------------------------------------------

    async def _messages(self, ctx: AgentContext) -> list[Message]:
        messages: list[Message] = []
        system = _text(ctx.render(self.system_prompt)) if self.system_prompt else ""
        if self.json_schema is not None:
            schema = json.dumps(self.json_schema, ensure_ascii=False)
            system = f"{system}\n\n" if system else ""
            system += f"Answer with JSON only, valid against this JSON Schema: {schema}"
        if system:
            messages.append({"role": "system", "content": system})
        sessions = ctx.services.sessions
        if sessions is not None and ctx.session_id and self.history_messages != 0:
            messages += _earlier(await sessions.history(ctx.session_id, limit=self.history_messages), self.kind)
        instruction = _text(ctx.render(ctx.action)).strip() if ctx.action.strip() else ""
        content = _text(ctx.input).strip() if ctx.input is not None else ""
        user = "\n\n".join(part for part in (instruction, content) if part)
        if not user:
            raise AgentError(
                "llm has nothing to ask: give the step an action (the instruction) or an input", retryable=False
            )
        messages.append({"role": "user", "content": user})
        return messages

    async def _remember(self, ctx: AgentContext, question: str, answer: str) -> None:
        sessions = ctx.services.sessions
        if sessions is None or not ctx.session_id or self.history_messages == 0:
            return
        exchange = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        await sessions.append(ctx.session_id, exchange, run_id=ctx.run_id, node_key=ctx.node_key)

    async def _headers(self, ctx: AgentContext) -> tuple[dict[str, str], list[str]]:
        """The request's headers, and the secret values in them (to keep out of error messages)."""
        headers = {"Content-Type": "application/json"}
        if not self.credential:
            return headers, []
        resolver = ctx.services.credentials
        if resolver is None:
            raise AgentError(
                f"credential '{self.credential}' cannot be used here (no credential store)", retryable=False
            )
        credential = await resolver.get(self.credential)
        values = credential.values
        if credential.type == "basic":
            pair = f"{values.get('username', '')}:{values.get('password', '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif credential.type == "header":
            headers[values.get("name") or "Authorization"] = values.get("value", "")
        else:
            headers["Authorization"] = f"Bearer {values.get('token', '')}"
        return headers, [v for k, v in values.items() if k not in ("name", "username") and len(v) >= 4]

    def _check_budget(self, before: int, usage: Usage | None) -> None:
        if self.max_run_tokens is None:
            return
        used = before + int((usage or {}).get("total_tokens", 0))
        if (usage is None and used >= self.max_run_tokens) or used > self.max_run_tokens:
            raise AgentError(
                f"token budget of {self.max_run_tokens} exceeded (used {used})", retryable=False, usage=usage
            )

    # --- one completion, with retries of 429 and 5xx ---------------------------------------------------------

    async def _complete(
        self,
        ctx: AgentContext,
        messages: list[Message],
        headers: dict[str, str],
        *,
        usage_so_far: Usage | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> Answer:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": self.stream}
        if tools:
            body["tools"] = tools
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        for number in range(self.retries + 1):
            try:
                if self.stream:
                    return await self._streamed(ctx, body, headers, messages)
                return await self._whole(ctx, body, headers, messages)
            except _Retry as retry:
                if number == self.retries:
                    raise AgentError(str(retry), usage=usage_so_far or None, retry_after=retry.after) from None
                wait = retry.after if retry.after is not None else self.retry_backoff_seconds * 2**number
                await ctx.sleep(min(wait, MAX_RETRY_AFTER_SECONDS))
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    async def _whole(
        self, ctx: AgentContext, body: dict[str, Any], headers: dict[str, str], messages: list[Message]
    ) -> Answer:
        url = self._endpoint
        with self._transport_errors():
            request = ctx.http.build_request("POST", url, json=body, headers=headers, timeout=self.timeout_seconds)
            response = await outbound.send(ctx.http, request, credential_headers=_credential_headers(headers))
        self._check_status(response)
        try:
            data = response.json()
            message = data["choices"][0]["message"]
            text = message.get("content") or ""
            if not isinstance(text, str):
                raise TypeError("content is not text")
            calls = _whole_tool_calls(message.get("tool_calls"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            snippet = response.text[:200]
            raise AgentError(
                f"model endpoint {url} answered something that is not a chat completion: {snippet!r}"
            ) from None
        return Answer(text, _usage(data.get("usage"), messages, text + _calls_text(calls)), calls)

    async def _streamed(
        self, ctx: AgentContext, body: dict[str, Any], headers: dict[str, str], messages: list[Message]
    ) -> Answer:
        url = self._endpoint
        parts: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        reported: Any = None
        finished = False
        with self._transport_errors():
            request = ctx.http.build_request("POST", url, json=body, headers=headers, timeout=self.timeout_seconds)
            response = await outbound.send(
                ctx.http, request, credential_headers=_credential_headers(headers), stream=True
            )
            async with contextlib.aclosing(response):
                if response.status_code >= 400:
                    await response.aread()
                    self._check_status(response)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # A server that ignores "stream" answers one JSON completion: take it as it is.
                    await response.aread()
                    return await self._from_json(url, response, messages, ctx)
                async for data in _events(response):
                    if data == "[DONE]":
                        finished = True
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise AgentError(
                            f"model endpoint {url} streamed something that is not JSON: {data[:200]!r}"
                        ) from None
                    if not isinstance(chunk, dict):
                        continue
                    if chunk.get("error"):
                        raise AgentError(f"model endpoint {url} failed mid-answer: {_error_message(chunk)}")
                    if chunk.get("usage"):
                        reported = chunk["usage"]
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        piece = delta.get("content")
                        if isinstance(piece, str) and piece:
                            parts.append(piece)
                            if ctx.stream is not None:
                                ctx.stream(piece)
                        _gather_tool_calls(calls, delta.get("tool_calls"))
                        if choice.get("finish_reason"):
                            finished = True
        if not finished:
            raise AgentError(f"the answer from {url} was cut off mid-way (the stream ended before it was complete)")
        text = "".join(parts)
        found = [calls[i] for i in sorted(calls)]
        return Answer(text, _usage(reported, messages, text + _calls_text(found)), found)

    async def _from_json(
        self, url: str, response: httpx.Response, messages: list[Message], ctx: AgentContext
    ) -> Answer:
        try:
            data = response.json()
            message = data["choices"][0]["message"]
            text = str(message["content"] or "")
            calls = _whole_tool_calls(message.get("tool_calls"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise AgentError(
                f"model endpoint {url} answered something that is not a chat completion: {response.text[:200]!r}"
            ) from None
        if ctx.stream is not None and text:
            ctx.stream(text)
        return Answer(text, _usage(data.get("usage"), messages, text + _calls_text(calls)), calls)

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        url = self._endpoint
        detail = _error_message(_json_or_none(response)) or response.text[:200]
        if status in (401, 403):
            hint = (
                f"check credential '{self.credential}'"
                if self.credential
                else "the endpoint wants an API key: set a credential"
            )
            raise AgentError(f"{status} from {url} — {hint} ({detail})", retryable=False)
        if status == 404:
            raise AgentError(
                f"404 from {url} — check the base URL and the model '{self.model}' ({detail})", retryable=False
            )
        if status == 429 or status >= 500:
            what = "rate limited" if status == 429 else "server error"
            raise _Retry(f"{status} from {url} ({what}): {detail}", _retry_after(response))
        raise AgentError(f"{status} from {url}: {detail}", retryable=False)

    def _transport_errors(self) -> contextlib.AbstractContextManager[None]:
        return _transport_errors(self._endpoint, self.timeout_seconds)


class _Retry(Exception):
    """A failure another try may fix (429, 5xx); `after` is the server's Retry-After in seconds."""

    def __init__(self, message: str, after: float | None) -> None:
        super().__init__(message)
        self.after = after


@contextlib.contextmanager
def _transport_errors(url: str, timeout: float) -> Iterator[None]:
    """Turns httpx's transport errors into messages a user can act on."""
    try:
        yield
    except httpx.TimeoutException:
        raise AgentError(f"model endpoint {url} did not answer within {timeout:g} s") from None
    except outbound.DestinationRefused as exc:
        raise AgentError(str(exc), retryable=False) from None
    except httpx.ConnectError:
        raise AgentError(f"model endpoint {url} refused the connection (is the server running?)") from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise AgentError(f"the answer from {url} was cut off mid-way ({exc})") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        raise AgentError(f"model endpoint {url} is not a valid http(s) URL", retryable=False) from None
    except httpx.HTTPError as exc:
        raise AgentError(f"model endpoint {url} failed: {exc}") from None


async def _events(response: httpx.Response) -> AsyncIterator[str]:
    """The `data:` payloads of a server-sent event stream (multi-line data joined by newlines)."""
    lines: list[str] = []
    size = 0
    async for line in response.aiter_lines():
        size += len(line)
        if size > MAX_ANSWER_BYTES:
            raise AgentError(
                f"model endpoint {response.url} streamed more than {MAX_ANSWER_BYTES} bytes", retryable=False
            )
        if not line.strip():
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith("data:"):
            lines.append(line[5:].lstrip())
    if lines:
        yield "\n".join(lines)


def _credential_headers(headers: dict[str, str]) -> list[str]:
    """The headers `Llm._headers` set from the credential (all but Content-Type): not sent to another origin."""
    return [name for name in headers if name.lower() != "content-type"]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_message(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare from model servers; back off as usual
        return None


def _estimate(text: str) -> int:
    """About four characters a token, as OpenAI's rule of thumb has it."""
    return max(1, (len(text) + 3) // 4) if text else 0


def _usage(reported: Any, messages: list[Message], answer: str) -> Usage:
    if isinstance(reported, dict) and isinstance(reported.get("total_tokens"), int):
        prompt, completion = int(reported.get("prompt_tokens") or 0), int(reported.get("completion_tokens") or 0)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": int(reported["total_tokens"])}
    prompt = sum(_estimate(_text(m.get("content") or "")) + 4 for m in messages)
    completion = _estimate(answer)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "estimated": True,
    }


def _earlier(history: list[Message], kind: str) -> list[Message]:
    """A session's earlier messages as this kind can send them: an agent keeps tool calls and results (without a
    result whose call fell out of the window); an llm step, which offers no tools, only the texts."""
    if kind == "agent":
        called = {c.get("id") for m in history for c in m.get("tool_calls") or []}
        return [m for m in history if m.get("role") != "tool" or m.get("tool_call_id") in called]
    return [
        {"role": m["role"], "content": m.get("content") or ""}
        for m in history
        if m.get("role") != "tool" and (m.get("content") or not m.get("tool_calls"))
    ]


def _whole_tool_calls(value: Any) -> list[dict[str, str]]:
    """The tool calls of a whole (not streamed) assistant message; TypeError when they are malformed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError("tool_calls is not a list")
    calls = []
    for number, call in enumerate(value, start=1):
        function = call["function"]
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {})
        calls.append(
            {"id": str(call.get("id") or f"call_{number}"), "name": str(function["name"]), "arguments": arguments}
        )
    return calls


def _gather_tool_calls(calls: dict[int, dict[str, str]], deltas: Any) -> None:
    """Add streamed tool-call deltas (OpenAI's: by index, id and name first, then the arguments in pieces)."""
    if not isinstance(deltas, list):
        return
    for delta in deltas:
        if not isinstance(delta, dict):
            continue
        index = delta.get("index", len(calls))
        index = index if isinstance(index, int) else len(calls)
        call = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if delta.get("id"):
            call["id"] = str(delta["id"])
        function = delta.get("function") or {}
        if isinstance(function, dict):
            if function.get("name"):
                call["name"] += str(function["name"]) if not call["name"] else ""
            if isinstance(function.get("arguments"), str):
                call["arguments"] += function["arguments"]
    for index, call in calls.items():
        call["id"] = call["id"] or f"call_{index + 1}"


def _calls_text(calls: list[dict[str, str]]) -> str:
    """The tool calls as the words an estimate counts."""
    return "".join(f" {c['name']} {c['arguments']}" for c in calls)


def _add(total: Usage, usage: Usage) -> Usage:
    merged = dict(total)
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        merged[name] = merged.get(name, 0) + usage.get(name, 0)
    if usage.get("estimated") or total.get("estimated"):
        merged["estimated"] = True
    return merged


def _standard(schema: Any) -> Any:
    """`schema` with JSON Schema's own default for unlisted properties (allowed); the shared checker
    refuses them by default, as run inputs want."""
    if not isinstance(schema, dict):
        return schema
    result = dict(schema)
    if isinstance(schema.get("properties"), dict):
        result["properties"] = {name: _standard(item) for name, item in schema["properties"].items()}
        result.setdefault("additionalProperties", True)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            result[key] = _standard(schema[key])
    return result


def _parse_json(answer: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The answer's JSON and None, or None and what is wrong with it (in words the model can act on)."""
    text = answer.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"it is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    problems = inputs.input_problems([_standard(schema)], value, path="")
    if problems:
        return None, "; ".join(f"{field}: {message}" for field, message in problems[:10])
    return value, None
