"""The outbound destination policy: which addresses calls may reach, checked when connecting, redirects included.

Calls go to real servers on 127.0.0.1 (and 127.0.0.2); an address that must never be reached (a cloud metadata
address) is tried through a network backend that only records, so no test sends anything off this machine.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx
import pytest
from pydantic import ValidationError

from app.agents.base import AgentContext, AgentServices, Credential
from app.agents.http import Http
from app.agents.llm import Llm
from app.engine.exceptions import AgentError
from app.outbound import DestinationPolicy, DestinationRefused, client
from app.settings import Settings
from tests.servers import LocalServer, Raw

OFF = "outbound calls to private networks are off; allow them with FLOWYARD_ALLOW_PRIVATE_NETWORKS"
EVERYTHING = DestinationPolicy.allowing("0.0.0.0/0,::/0")


class Vault:
    """One header credential, as the application's resolver would give it."""

    async def get(self, name: str) -> Credential:
        return Credential(name, "header", {"name": "X-Api-Key", "value": "key-7f3c-secret"})


class Recorder(httpcore.AsyncNetworkBackend):
    """A network backend that connects nowhere: it records each address it is asked for and fails."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError("the test backend connects nowhere")


@pytest.fixture
def other() -> Iterator[LocalServer]:
    """A second server, on 127.0.0.2: loopback too, but outside 127.0.0.1/32."""
    with LocalServer(host="127.0.0.2") as server:
        yield server


def context(http: httpx.AsyncClient, action: str = "") -> AgentContext:
    return AgentContext(
        run_id="wr-1",
        node_key="call",
        action=action,
        input=None,
        mapping_context={},
        http=http,
        services=AgentServices(credentials=Vault()),
    )


# --- the rules --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12::1", "private"),
        ("100.64.0.1", "shared address space"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("192.0.2.1", "reserved"),
    ],
)
def test_non_public_address_is_refused_naming_the_rule(address: str, rule: str) -> None:
    refusal = DestinationPolicy().refusal(address, address)

    assert refusal is not None
    assert str(refusal) == f"refused to connect to {address} ({rule}): {OFF}"


def test_ipv4_mapped_address_is_judged_as_its_ipv4_address() -> None:
    refusal = DestinationPolicy().refusal("::ffff:127.0.0.1", "::ffff:127.0.0.1")

    assert str(refusal) == f"refused to connect to ::ffff:127.0.0.1 (127.0.0.1, loopback): {OFF}"
    assert DestinationPolicy.allowing("127.0.0.1/32").refusal("::ffff:127.0.0.1", "::ffff:127.0.0.1") is None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_address_is_allowed(address: str) -> None:
    assert DestinationPolicy().refusal("example.com", address) is None


def test_listed_network_is_allowed_and_the_rest_still_refused() -> None:
    policy = DestinationPolicy.allowing("127.0.0.1/32, 10.0.0.0/8")

    assert policy.refusal("127.0.0.1", "127.0.0.1") is None
    assert policy.refusal("build", "10.9.9.9") is None
    assert str(policy.refusal("127.0.0.2", "127.0.0.2")) == (
        "refused to connect to 127.0.0.2 (loopback): 127.0.0.2 is not in FLOWYARD_ALLOW_PRIVATE_NETWORKS "
        "(127.0.0.1/32,10.0.0.0/8)"
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("169.254.169.254", "169.254.169.254 is a cloud metadata address: always refused"),
        ("169.254.170.2", "169.254.170.2 is a cloud metadata address: always refused"),
        ("fd00:ec2::254", "fd00:ec2::254 is a cloud metadata address: always refused"),
        ("100.100.100.200", "100.100.100.200 is a cloud metadata address: always refused"),
        ("::ffff:169.254.169.254", "::ffff:169.254.169.254 (169.254.169.254) is a cloud metadata address: always"),
        ("64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe (169.254.169.254) is a cloud metadata address: always refused"),
        ("169.254.10.10", "169.254.10.10 is link-local: always refused"),
        ("fe80::1", "fe80::1 is link-local: always refused"),
    ],
)
def test_metadata_and_link_local_addresses_are_refused_even_when_every_network_is_allowed(
    address: str, message: str
) -> None:
    refusal = EVERYTHING.refusal(address, address)

    assert refusal is not None
    assert str(refusal).startswith(message)


# --- the setting ------------------------------------------------------------------------------------------------


def test_setting_is_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_ALLOW_PRIVATE_NETWORKS", "127.0.0.1/32, 10.0.0.0/8,fd00::/8")

    policy = DestinationPolicy.allowing(Settings().allow_private_networks)

    assert [str(network) for network in policy.allowed] == ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]


@pytest.mark.parametrize("value", ["127.0.0.1/32,intranet", "10.0.0.0/33"])
def test_malformed_setting_is_refused_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FLOWYARD_ALLOW_PRIVATE_NETWORKS", value)

    with pytest.raises(ValidationError, match=r"FLOWYARD_ALLOW_PRIVATE_NETWORKS: '.*' is not a network"):
        Settings()


# --- at connect time --------------------------------------------------------------------------------------------


async def test_loopback_is_refused_before_anything_is_sent(server: LocalServer) -> None:
    async with client(DestinationPolicy(), timeout=5) as http:
        with pytest.raises(DestinationRefused, match=r"refused to connect to 127\.0\.0\.1 \(loopback\)"):
            await http.get(server.url + "/secret")

    assert server.requests == []


async def test_name_is_judged_by_the_address_it_resolves_to(server: LocalServer) -> None:
    port = server.url.rsplit(":", 1)[1]

    async with client(DestinationPolicy(), timeout=5) as http:
        with pytest.raises(DestinationRefused, match=r"refused to connect to localhost \(.*, loopback\)"):
            await http.get(f"http://localhost:{port}/secret")

    assert server.requests == []


async def test_name_is_reached_on_its_allowed_address(server: LocalServer) -> None:
    port = server.url.rsplit(":", 1)[1]

    async with client(DestinationPolicy.allowing("127.0.0.1/32"), timeout=5) as http:
        response = await http.get(f"http://localhost:{port}/ok")

    assert response.status_code == 200
    assert server.hits["/ok"] == 1


async def test_name_is_looked_up_again_for_each_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: a name that first resolves to a public address and then to loopback is refused then."""
    answers = iter(["93.184.216.34", "127.0.0.1"])
    real = socket.getaddrinfo

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host != "rebinding.test":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    recorder = Recorder()
    async with client(DestinationPolicy(), timeout=5, backend=recorder) as http:
        with pytest.raises(httpx.ConnectError, match="connects nowhere"):
            await http.get("http://rebinding.test/")
        with pytest.raises(DestinationRefused, match=r"rebinding\.test \(127\.0\.0\.1, loopback\)"):
            await http.get("http://rebinding.test/")

    assert recorder.connects == [("93.184.216.34", 80)]


async def test_metadata_address_is_never_connected_to() -> None:
    recorder = Recorder()

    async with client(EVERYTHING, timeout=5, backend=recorder) as http:
        with pytest.raises(DestinationRefused, match=r"169\.254\.169\.254 is a cloud metadata address: always refused"):
            await http.get("http://169.254.169.254/latest/meta-data/iam/security-credentials/")

    assert recorder.connects == []


async def test_redirect_to_a_refused_address_is_refused(server: LocalServer, other: LocalServer) -> None:
    start = server.reply("/start", Raw(302, headers={"Location": other.url + "/inside"}))

    async with client(DestinationPolicy.allowing("127.0.0.1/32"), timeout=5) as http:
        with pytest.raises(DestinationRefused, match=r"refused to connect to 127\.0\.0\.2 \(loopback\)"):
            await http.get(start)

    assert server.hits["/start"] == 1
    assert other.requests == []


# --- what a step says -------------------------------------------------------------------------------------------


async def test_http_step_to_a_refused_address_fails_for_good_naming_the_rule(server: LocalServer) -> None:
    agent = Http(method="POST", url=server.url + "/hook")

    async with client(DestinationPolicy(), timeout=5) as http:
        with pytest.raises(AgentError) as caught:
            await agent.run(context(http))

    assert str(caught.value) == f"refused to connect to 127.0.0.1 (loopback): {OFF}"
    assert caught.value.retryable is False
    assert server.requests == []


async def test_http_step_to_the_metadata_address_fails_even_when_every_network_is_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWYARD_ALLOW_PRIVATE_NETWORKS", "0.0.0.0/0")
    policy = DestinationPolicy.allowing(Settings().allow_private_networks)
    recorder = Recorder()
    agent = Http(method="GET", url="http://169.254.169.254/latest/meta-data/")

    async with client(policy, timeout=5, backend=recorder) as http:
        with pytest.raises(AgentError) as caught:
            await agent.run(context(http))

    assert str(caught.value) == "169.254.169.254 is a cloud metadata address: always refused"
    assert caught.value.retryable is False
    assert recorder.connects == []


@pytest.mark.parametrize("stream", [False, True])
async def test_llm_step_to_a_refused_address_fails_for_good_naming_the_rule(server: LocalServer, stream: bool) -> None:
    agent = Llm(base_url=server.url + "/v1", stream=stream, retries=0)

    async with client(DestinationPolicy(), timeout=5) as http:
        with pytest.raises(AgentError) as caught:
            await agent.run(context(http, "Say hi"))

    assert str(caught.value) == f"refused to connect to 127.0.0.1 (loopback): {OFF}"
    assert caught.value.retryable is False
    assert server.requests == []


# --- credentials across redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_llm_header_credential_is_not_sent_to_another_origin(server: LocalServer, stream: bool) -> None:
    with LocalServer() as elsewhere:
        landing = elsewhere.reply("/v1/chat/completions", (200, {"choices": [{"message": {"content": "hi"}}]}))
        server.reply("/v1/chat/completions", Raw(307, headers={"Location": landing}))
        agent = Llm(base_url=server.url + "/v1", credential="custom", stream=stream, retries=0)

        async with client(DestinationPolicy.allowing("127.0.0.1/32"), timeout=5) as http:
            result = await agent.run(context(http, "Say hi"))

        assert result.output == "hi"
        assert "x-api-key" in server.calls_to("/v1/chat/completions")[0].headers
        assert "x-api-key" not in elsewhere.calls_to("/v1/chat/completions")[0].headers
