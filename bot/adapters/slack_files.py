"""Files people share with the bot on Slack (a message event with subtype `file_share`),
fetched into `Upload`s for the core.

Slack's "Working with files" ("Authentication for files"): `url_private` and
`url_private_download` need an `Authorization: Bearer` header with a token that has the
`files:read` scope (manifest.yaml asks for it). A file bigger than LIAISON_UPLOAD_MAX_BYTES is
not fetched (the event's `size` says so first; the body is read no further than the limit).
Without a good token Slack does not send the file; people report that it answers with its
HTML sign-in page instead, so an HTML answer for a file that is not HTML counts as not
received."""

from __future__ import annotations

import logging
import urllib.request
from typing import Any
from urllib.error import URLError
from urllib.parse import SplitResult, urlsplit

from bot.messages import Upload

log = logging.getLogger(__name__)
TIMEOUT = 15.0  # seconds for one download
# Where Slack serves shared files ("Working with files": url_private on files.slack.com). The
# bot token goes there over https only, or to the configured API URL's own scheme and host (a
# test's fake Slack), never to another host an event or a redirect names.
FILE_HOSTS = frozenset({"files.slack.com"})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would repeat the Authorization header to wherever a redirect points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def uploads(files: list[dict[str, Any]], token: str, limit: int,
            api_url: str = "https://slack.com/api/") -> tuple[Upload, ...]:
    """Each shared file as an Upload: its bytes when Slack gave them within `limit`, else the
    reason it has none."""
    api = urlsplit(api_url)
    return tuple(_one(f, token, limit, api) for f in files if isinstance(f, dict))


def _allowed(url: str, api: SplitResult) -> bool:
    """Slack's file host over https, or the configured API's own scheme and host."""
    parts = urlsplit(url)
    return ((parts.scheme == "https" and parts.hostname in FILE_HOSTS)
            or (parts.scheme, parts.hostname) == (api.scheme, api.hostname))


def _one(file: dict[str, Any], token: str, limit: int, api: SplitResult) -> Upload:
    name = str(file.get("name") or file.get("title") or "file")[:200]
    mime = str(file.get("mimetype") or "application/octet-stream")
    try:
        size = int(file.get("size") or 0)
    except (TypeError, ValueError):
        size = 0
    if size > limit:
        return Upload(name, mime, size=size, problem="too_large")
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    if not _allowed(url, api):
        log.warning("a shared file's address is not Slack's; not fetched: %s", url[:120])
        return Upload(name, mime, size=size, problem="unavailable")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as answer:
            kind = answer.headers.get("Content-Type", "")
            data = answer.read(limit + 1)
    except (URLError, OSError, ValueError) as exc:
        log.warning("could not download a file shared on Slack: %s", exc)
        return Upload(name, mime, size=size, problem="unavailable")
    if len(data) > limit:
        return Upload(name, mime, size=max(size, len(data)), problem="too_large")
    if kind.startswith("text/html") and not mime.startswith("text/html"):
        log.warning("Slack answered a file download with a web page: is the token right, "
                    "and does it have the files:read scope?")
        return Upload(name, mime, size=size, problem="unavailable")
    return Upload(name, mime, size=len(data), data=data)
