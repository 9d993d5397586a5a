"""Starting an aiohttp server on a host and port and telling its base URL, written once for the
engine and the fake backend (devkit/fakes/nemo.py), so both bind, report and clean up alike."""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web


async def listen(app: web.Application, host: str, port: int, **runner_options: Any) -> tuple[web.AppRunner, str]:
    """Serve `app` on `host:port` (port 0: a free one). Returns the runner (its `cleanup()` stops
    the server) and the base URL `http://HOST:PORT` it really listens on. If the address cannot be
    bound (a port in use), nothing is left open and the `OSError` is raised."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{_url_host(str(bound_host))}:{bound_port}"


def _url_host(host: str) -> str:
    """An IPv6 address goes in brackets in a URL."""
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host
