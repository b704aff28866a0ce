"""Sending OpenLineage events: `LineageEmitter` to a file (NDJSON) or an HTTP server.

`LineageEmitter` wraps an `OpenLineageClient` with either a file transport (one JSON event
per line, appended) or an HTTP transport (Marquez or any OpenLineage server). A failing
HTTP server never fails the run: it is logged as a warning naming only the exception type.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from pathlib import Path
from typing import Any, Final, Self
from urllib.parse import urlsplit

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunEvent
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)
from openlineage.client.transport.transport import Transport

from connectors.i18n import _
from connectors.private_files import make_private_dir, make_private_file

__all__ = ["LineageEmitter", "is_http_url"]

# The logger keeps the name operators filter on since the emitter lived in lineage.openlineage.
_log = logging.getLogger("lineage.openlineage")

# The client merges this over an openlineage.yml and OPENLINEAGE__* variables, so an
# ambient configuration cannot add environment-variable or git facets, filter events out
# or rename datasets: what is emitted is exactly what the builders made (plus the
# client's own `tags` run facet, which holds its version).
_PINNED_CLIENT_CONFIG: Final[dict[str, Any]] = {
    "facets": {"environment_variables": [], "source_code_location": {"disabled": True}},
    "filters": [],
    "dataset": {"reducing_enabled": False, "disabled_trimmers": [], "extra_trimmers": []},
}


# -- emitter -----------------------------------------------------------------------------


class LineageEmitter:
    """Sends RunEvents through an OpenLineageClient to a file or an HTTP server.

    Build one with `to_file` or `to_http`. A file transport appends one JSON event per
    line; its errors (a folder that cannot be written) raise, because the file is the
    local record. An HTTP transport is best effort: a server that is down, refuses or
    answers with an error is logged as a warning naming only the exception type (never
    the URL, which may carry credentials) and `emit` returns False.
    """

    def __init__(self, transport: Transport, *, best_effort: bool) -> None:
        """Wrap a transport; prefer `to_file` and `to_http`.

        Args:
            transport: the openlineage transport events are handed to.
            best_effort: log and swallow transport errors instead of raising them.
        """
        self._client = OpenLineageClient(
            transport=transport, config=copy.deepcopy(_PINNED_CLIENT_CONFIG)
        )
        self._best_effort = best_effort

    @classmethod
    def to_file(cls, path: Path) -> Self:
        """Append events to `path` as NDJSON (e.g. ``<state>/openlineage.ndjson``).

        Args:
            path: the file; its folder is created when missing. Both are for the owner
                only (0600, 0700): the events name schools, files and suppliers.
        """
        make_private_dir(path.parent)
        # A path that cannot be a file fails on the first emit, as any write error does.
        with contextlib.suppress(OSError):
            make_private_file(path)
        return cls(
            FileTransport(FileConfig(log_file_path=str(path), append=True)), best_effort=False
        )

    @classmethod
    def to_http(
        cls,
        url: str,
        api_key: str | None = None,
        *,
        endpoint: str = "api/v1/lineage",
        timeout: float = 5.0,
        retries: int = 2,
    ) -> Self:
        """Post events to an OpenLineage server such as Marquez.

        Args:
            url: the server's base URL, e.g. ``http://marquez:5000``.
            api_key: sent as a bearer token when given; the caller reads it from settings.
            endpoint: path of the lineage endpoint below `url`.
            timeout: seconds per request.
            retries: extra attempts on connection errors and 5xx answers.

        Raises:
            ValueError: `url` is not an http(s) URL with a host (the URL is not repeated).
        """
        if not is_http_url(url):
            raise ValueError("the lineage URL must be an http(s) URL with a host")
        auth = ApiKeyTokenProvider({"api_key": api_key}) if api_key else TokenProvider({})
        retry = {
            "total": retries,
            "read": retries,
            "connect": retries,
            "backoff_factor": 0.3,
            "status_forcelist": [500, 502, 503, 504],
            "allowed_methods": ["HEAD", "POST"],
        }
        config = HttpConfig(url=url, endpoint=endpoint, timeout=timeout, auth=auth, retry=retry)
        try:
            transport = HttpTransport(config)
        except ValueError:
            raise ValueError("the lineage URL must be an http(s) URL with a host") from None
        return cls(transport, best_effort=True)

    def emit(self, event: RunEvent) -> bool:
        """Send one event; return False when a best-effort transport failed.

        The event is copied first: the client adds its `tags` run facet to what it sends,
        and the caller's event stays as built.
        """
        sent = copy.deepcopy(event)
        if not self._best_effort:
            self._client.emit(sent)
            return True
        try:
            self._client.emit(sent)
        except Exception as error:  # a lineage server must never stop a delivery
            _log.warning(
                _("OpenLineage: versturen van het %s-event mislukt (%s); de run gaat door"),
                _state_name(event),
                type(error).__name__,
            )
            return False
        return True

    def close(self) -> None:
        """Close the transport (an HTTP session); the emitter is not used afterwards."""
        self._client.close()


def _state_name(event: RunEvent) -> str:
    return event.eventType.value if event.eventType is not None else "run"


def is_http_url(url: str) -> bool:
    """Whether `url` is an http(s) URL with a host: the only kind the emitter posts to.

    Settings check SLUIS_OPENLINEAGE_URL with this before a run starts.
    """
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
