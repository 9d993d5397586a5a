"""Which links the bot hands on or follows for a user: one rule, for every hop.

A user's `upload <url>` is passed to the backend, which fetches it; an attachment is downloaded by the
bot itself from the URL Discord gave, and a redirect from there is one more fetch a user could steer
(a CDN, or a Discord-compatible server, answering with a redirect to a service on the bot's own
network). Both pass only `https` links on the default port, without credentials, to the operator's
allowed hosts (UPLOAD_URL_HOSTS: Discord's CDN by default).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

LINK = re.compile(r"https?://[^\s<>\"']+")
MAX_REDIRECTS = 3


def links_in(text: str) -> list[str]:
    return LINK.findall(text)


def link_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """An `https` link on the default port, without user info, to one of `hosts`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed port or host
        return False
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and parts.username is None and port in (None, 443) and host in hosts
