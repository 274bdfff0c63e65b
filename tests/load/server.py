"""A real `flowyard serve` on a temporary data directory, and a Chromium, for the browser benchmarks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def flowyard_serve(data_dir: Path, *, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """Start `flowyard serve` on `data_dir`, wait until it is healthy, yield its base URL; stop it after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "FLOWYARD_DATA_DIR": str(data_dir), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            for _ in range(300):
                try:
                    if (await client.get("/api/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("flowyard serve did not become healthy")
        yield base
    finally:
        process.terminate()
        process.wait(10)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium where it is installed, else Playwright's own."""
    async with async_playwright() as playwright:
        launch: dict[str, Any] = {"args": ARGS}
        if Path(CHROMIUM).exists():
            launch["executable_path"] = CHROMIUM
        browser = await playwright.chromium.launch(**launch)
        try:
            yield browser
        finally:
            await browser.close()
