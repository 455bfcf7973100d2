"""The thin client: the same use cases as direct mode, sent to ``indsats server`` over its unix socket.

Standard library only, and little of it: one HTTP/1.1 request per command over an ``AF_UNIX`` socket, written
here in a few lines rather than with ``http.client``, whose ``email`` imports cost a fifth of a thin command's
start. No SQLAlchemy, pydantic, holidays or cryptography, and no key. The server learns who is calling from the kernel; nothing sent here names a user. Errors come
back as RFC 9457 problem details carrying the exit code, and are raised as the same ``IndsatsError``
subclasses direct mode raises, so the command prints and exits exactly as it would there.

>>> parse_address("unix:/run/indsats/indsats.sock")
'/run/indsats/indsats.sock'
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from indsats import wire
from indsats.errors import (
    Conflict,
    IndsatsError,
    IntegrityBroken,
    Invalid,
    NotAllowed,
    NotFound,
    StorageUnavailable,
)

TIMEOUT_SECONDS = 300.0  # a report over years of cases takes a while; a dead server is seen at once
ERRORS: dict[int, type[IndsatsError]] = {
    cls.exit_code: cls for cls in (NotFound, NotAllowed, Invalid, Conflict, StorageUnavailable, IntegrityBroken)
}


def parse_address(address: str) -> str:
    """The socket path of ``unix:/path``, or ``Invalid``."""
    scheme, sep, rest = address.partition(":")
    if scheme != "unix" or not sep or not rest:
        raise Invalid(f"bad server address '{address}': use unix:/path/to/indsats.sock")
    return rest


def request(path: str, target: str, body: bytes, timeout: float = TIMEOUT_SECONDS) -> tuple[int, bytes]:
    """POST ``body`` (JSON) to ``target`` on the unix socket ``path``; the status and the body of the answer.

    One request per connection (``Connection: close``): the answer ends where the server closes.
    :raises ConnectionError: nothing answers on ``path``.
    :raises EOFError: the server closed the connection before a whole answer.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except OSError as exc:
            raise ConnectionError(exc.strerror or str(exc)) from None
        head = (f"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("ascii")
        try:
            sock.sendall(head + body)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            raise EOFError from None
    finally:
        sock.close()
    answer = b"".join(chunks)
    header, sep, content = answer.partition(b"\r\n\r\n")
    status_line = header.split(b"\r\n", 1)[0].split()
    if not sep or len(status_line) < 2 or not status_line[1].isdigit():
        raise EOFError
    length = next((int(line.split(b":", 1)[1]) for line in header.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), None)
    if length is not None and len(content) < length:
        raise EOFError
    return int(status_line[1]), content if length is None else content[:length]


def call(address: str, use_case: str, args: dict[str, Any]) -> Any:
    """Run ``use_case`` on the server at ``address`` with ``args``; its value, decoded (``indsats.wire``).

    Files the use case wrote (exports) are written here, as the caller, relative to this directory."""
    path = parse_address(address)
    _refuse_existing_targets(use_case, args)
    body = json.dumps({"args": wire.encode(args)}, ensure_ascii=False).encode("utf-8")
    try:
        status, data = request(path, f"/v1/{use_case}", body)
    except ConnectionError as exc:
        raise StorageUnavailable(f"cannot reach the server at {address}: {exc}") from None
    except EOFError:
        raise StorageUnavailable(
            f"the server at {address} stopped before answering; the command may or may not have been done "
            "(look with 'indsats show' or 'indsats history')"
        ) from None
    try:
        document = json.loads(data)
    except ValueError:
        raise StorageUnavailable(f"the server at {address} sent something that is not JSON") from None
    if status != 200:
        raise _error_of(document, address)
    for target, text in document.get("files", []):
        from indsats.adapters.files import write_private_text

        write_private_text(Path(target), text)
    return wire.decode(document["value"])


def _error_of(problem: Any, address: str) -> IndsatsError:
    if not isinstance(problem, dict) or "exit_code" not in problem:
        return StorageUnavailable(f"the server at {address} answered without a problem document")
    cls = ERRORS.get(int(problem["exit_code"]), IndsatsError)
    return cls(str(problem.get("detail") or problem.get("title") or "the server refused"))


def _refuse_existing_targets(use_case: str, args: dict[str, Any]) -> None:
    """An export must not overwrite a file: say so before the server records that it exported anything."""
    if use_case in ("archive.export", "subject.export") and isinstance(args.get("path"), str):
        target = Path(args["path"])
        if target.exists():
            raise Invalid(f"{target} exists already; choose a new file name")
