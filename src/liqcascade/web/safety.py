"""Request safety: size limits on bodies and uploads, and paths confined to the data directory.

Nothing in a request may name a file outside the configured data directory. A relative path
from a request is checked before it is joined (no absolute paths, drive letters, ``..``
components, backslashes or NUL bytes) and again after it is resolved (so a symlink inside
the data directory that points outside it is refused as well).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path, PurePosixPath
from typing import Any

from liqcascade.errors import InputError

#: Largest accepted upload (multipart body) in bytes: 20 MiB.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Largest accepted JSON (or any non-upload) request body in bytes: 1 MiB.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PathOutsideDataDir(InputError):
    """A path from a request would leave the data directory (or is malformed)."""


def safe_path(data_dir: Path, rel_path: str, *, field: str = "path") -> Path:
    """Resolve ``rel_path`` (from a request) inside ``data_dir``, or raise ``PathOutsideDataDir``.

    Parameters
    ----------
    data_dir:
        The configured data directory (the only tree requests may read or write).
    rel_path:
        A POSIX-style relative path such as ``"books/my_book.csv"``.
    field:
        The request field the path came from, named in the error message.

    Returns the resolved absolute path (which need not exist). Rejected: empty paths, absolute
    paths, Windows drive or UNC paths, backslashes, NUL bytes, any ``..`` component, and any path
    whose resolved target (after following symlinks) is not under the resolved data directory.
    """
    if not isinstance(rel_path, str) or rel_path.strip() == "":
        raise PathOutsideDataDir(
            f"{field}: empty path (expected a path relative to the data directory)"
        )
    if "\x00" in rel_path:
        raise PathOutsideDataDir(f"{field}: NUL byte in path")
    if "\\" in rel_path:
        raise PathOutsideDataDir(f"{field}: backslash in path {rel_path!r} (use '/' separators)")
    if rel_path.startswith("/") or (len(rel_path) > 1 and rel_path[1] == ":"):
        raise PathOutsideDataDir(
            f"{field}: absolute path {rel_path!r} refused (expected a path relative to the data directory)"
        )
    parts = PurePosixPath(rel_path).parts
    if any(p == ".." for p in parts):
        raise PathOutsideDataDir(
            f"{field}: '..' in path {rel_path!r} refused (paths must stay inside the data directory)"
        )
    root = Path(data_dir).resolve()
    target = (root / PurePosixPath(rel_path)).resolve()
    if target != root and root not in target.parents:
        raise PathOutsideDataDir(f"{field}: path {rel_path!r} resolves outside the data directory")
    return target


#: An absolute POSIX path (two or more components) not glued to a word before it; group 1 is
#: its last component. ``venue=/symbol=`` or ``a/b`` do not match.
_ABS_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/'\"(),;:\[\]]+/)+([^\s/'\"(),;:\[\]]+)")


def public_message(message: str, data_dir: Path | None = None) -> str:
    """``message`` with no server path in it, for an error a client will see.

    A file inside the data directory is named by its path relative to it (what requests use,
    e.g. ``uploads/3f2a.csv``); any other absolute path by its base name.

    >>> public_message("/srv/lc/uploads/a.csv row 3: bad", Path("/srv/lc"))
    'uploads/a.csv row 3: bad'
    >>> public_message("/usr/lib/python3/site-packages/liqcascade/examples/b.csv: two venues")
    'b.csv: two venues'
    >>> public_message("pick one with venue=/symbol= (CLI: --venue/--symbol)")
    'pick one with venue=/symbol= (CLI: --venue/--symbol)'
    """
    text = str(message)
    if data_dir is not None:
        for root in {str(Path(data_dir)), str(Path(data_dir).resolve())}:
            text = text.replace(root.rstrip("/") + "/", "")
    return _ABS_PATH.sub(lambda m: m.group(1), text)


class BodyTooLarge(Exception):
    """Raised from the wrapped ``receive`` when a body exceeds its limit."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(limit_bytes)
        self.limit_bytes = limit_bytes


class BodyLimitMiddleware:
    """Pure ASGI middleware: refuse request bodies above a size limit with 413.

    A declared ``Content-Length`` above the limit is refused before any of the body is read. A
    body without a length (chunked) is counted while it streams and refused as soon as it passes
    the limit. Upload paths (``upload_prefixes``) get ``max_upload_bytes``; everything else gets
    ``max_body_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        upload_prefixes: tuple[str, ...] = ("/api/books/upload",),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_prefixes = upload_prefixes

    def limit_for(self, path: str) -> int:
        if any(path.startswith(p) for p in self.upload_prefixes):
            return self.max_upload_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(
                        send,
                        400,
                        {"detail": "invalid Content-Length header", "field": "Content-Length"},
                    )
                    return
        if declared is not None and declared > limit:
            await _send_json(send, 413, _too_large(limit, declared))
            return

        received = 0
        exceeded = False
        replaced = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            # The framework may turn the exception from receive into its own 400 ("error
            # parsing the body"); once the limit was passed, answer 413 instead.
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if exceeded:
                    replaced = True
                    started = True
                    await _send_json(send, 413, _too_large(limit, None))
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_json(send, 413, _too_large(limit, None))


def _too_large(limit: int, declared: int | None) -> dict[str, Any]:
    got = f"{declared} bytes" if declared is not None else "more"
    return {
        "detail": f"request body too large: {got}, limit is {limit} bytes ({limit / 1048576:.0f} MiB)",
        "field": "body",
        "limit_bytes": limit,
    }


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
