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
from collections.abc import Iterator
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
from indsats.i18n import _

# What indsats.server.stream writes (kept here too: the client imports nothing of the server's).
STREAM_MEDIA_TYPE, STREAM_END, STREAM_PROBLEM = "application/x-ndjson", "__end__", "__problem__"
TIMEOUT_SECONDS = 300.0  # a report over years of cases takes a while; a dead server is seen at once
ERRORS: dict[int, type[IndsatsError]] = {
    cls.exit_code: cls for cls in (NotFound, NotAllowed, Invalid, Conflict, StorageUnavailable, IntegrityBroken)
}


def parse_address(address: str) -> str:
    """The socket path of ``unix:/path``, or ``Invalid``."""
    scheme, sep, rest = address.partition(":")
    if scheme != "unix" or not sep or not rest:
        raise Invalid(_("bad server address '{address}': use unix:/path/to/indsats.sock").format(address=address))
    return rest


def request(path: str, target: str, body: bytes, timeout: float = TIMEOUT_SECONDS) -> tuple[int, bytes]:
    """POST ``body`` (JSON) to ``target`` on the unix socket ``path``; the status and the body of the answer.

    One request per connection (``Connection: close``): the answer ends where the server closes.
    :raises ConnectionError: nothing answers on ``path``.
    :raises EOFError: the server closed the connection before a whole answer.
    """
    answer = _Answer(path, target, body, timeout)
    try:
        return answer.status, answer.read()
    finally:
        answer.close()


class _Answer:
    """One request on its own connection, and the answer's head; its body read whole or line by line."""

    def __init__(self, path: str, target: str, body: bytes, timeout: float) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            try:
                self.sock.connect(path)
            except OSError as exc:
                raise ConnectionError(exc.strerror or str(exc)) from None
            # Accept: a use case that streams (stuck) comes as JSON lines, read as they arrive.
            head = (f"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    f"Accept: application/json, {STREAM_MEDIA_TYPE}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("ascii")
            try:
                self.sock.sendall(head + body)
                self.file = self.sock.makefile("rb")
                self.status, headers = _read_head(self.file)
            except OSError:
                raise EOFError from None
        except BaseException:
            self.sock.close()
            raise
        self.media_type = headers.get(b"content-type", b"").split(b";")[0].decode("ascii", "replace")
        self.chunked = headers.get(b"transfer-encoding", b"").lower() == b"chunked"
        length = headers.get(b"content-length")
        self.length = int(length) if length is not None and length.isdigit() else None

    def read(self) -> bytes:
        """The whole body."""
        try:
            if self.chunked:
                return b"".join(self._chunks())
            content = self.file.read() if self.length is None else self.file.read(self.length)
        except OSError:
            raise EOFError from None
        if self.length is not None and len(content) < self.length:
            raise EOFError
        return content

    def lines(self) -> Iterator[bytes]:
        """The body's lines as they arrive (the last one without its newline, if the body ends so)."""
        rest = b""
        try:
            for chunk in self._chunks() if self.chunked else iter(lambda: self.file.read1(65536), b""):
                rest += chunk
                *whole, rest = rest.split(b"\n")
                yield from whole
        except OSError:
            raise EOFError from None
        if rest:
            yield rest

    def _chunks(self) -> Iterator[bytes]:
        return _read_chunks(self.file)

    def close(self) -> None:
        try:
            if getattr(self, "file", None) is not None:
                self.file.close()
        finally:
            self.sock.close()


def _read_head(file: Any) -> tuple[int, dict[bytes, bytes]]:
    """The status and the headers (names in lower case) of an HTTP/1.1 answer; EOFError where the server
    closed before the head was whole or did not answer HTTP."""
    status_line = file.readline().split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise EOFError
    headers: dict[bytes, bytes] = {}
    while (line := file.readline()) not in (b"\r\n", b"\n"):
        if not line:
            raise EOFError
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line[1]), headers


def _read_chunks(file: Any, *, trailer: bool = False) -> Iterator[bytes]:
    """HTTP/1.1 chunked transfer coding: a hex size line, that many bytes, CRLF; size 0 ends it (``trailer``:
    read the trailer's end too, on a connection kept for the next answer)."""
    while True:
        size_line = file.readline()
        if not size_line:
            raise EOFError
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while trailer and (line := file.readline()) not in (b"\r\n", b"\n"):
                if not line:
                    raise EOFError
            return
        data = file.read(size)
        if len(data) < size or file.read(2) != b"\r\n":
            raise EOFError
        yield data


def call(address: str, use_case: str, args: dict[str, Any]) -> Any:
    """Run ``use_case`` on the server at ``address`` with ``args``; its value, decoded (``indsats.wire``).

    Files the use case wrote (exports) are written here, as the caller, relative to this directory. A use
    case the server streams (``stuck``) comes back as an iterator over its items, read as they arrive."""
    path = parse_address(address)
    _refuse_existing_targets(use_case, args)
    body = json.dumps({"args": wire.encode(args)}, ensure_ascii=False).encode("utf-8")
    try:
        answer = _Answer(path, f"/v1/{use_case}", body, TIMEOUT_SECONDS)
    except ConnectionError as exc:
        raise StorageUnavailable(_("cannot reach the server at {address}: {error}").format(address=address, error=exc)) from None
    except EOFError:
        raise _stopped(address) from None
    if answer.status == 200 and answer.media_type == STREAM_MEDIA_TYPE:
        return _items(answer, address)
    try:
        data = answer.read()
    except EOFError:
        raise _stopped(address) from None
    finally:
        answer.close()
    return _value_of(answer.status, data, address)


def _value_of(status: int, data: bytes, address: str) -> Any:
    """The decoded value of a whole answer, its files written here; or the error its problem document names."""
    try:
        document = json.loads(data)
    except ValueError:
        raise StorageUnavailable(_("the server at {address} sent something that is not JSON").format(address=address)) from None
    if status != 200:
        raise _error_of(document, address)
    for target, text in document.get("files", []):
        from indsats.adapters.files import write_private_text

        write_private_text(Path(target), text)
    return wire.decode(document["value"])


class Connection:
    """One connection kept open for many requests (HTTP/1.1 keep-alive), for a program that sends more than
    one command, from one thread: ``Connection(address).call(use_case, args)`` as ``call`` does, the value
    whole (a use case that streams comes as one list). The server names the caller once per connection,
    from the kernel, as for any other.

    A connection the server closed while it was idle (uvicorn's keep-alive timeout) is seen before sending,
    and a new one made; one that breaks after a request was sent is the same error as ``call``'s.
    """

    def __init__(self, address: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.address = address
        self.path = parse_address(address)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.file: Any = None

    def call(self, use_case: str, args: dict[str, Any]) -> Any:
        _refuse_existing_targets(use_case, args)
        body = json.dumps({"args": wire.encode(args)}, ensure_ascii=False).encode("utf-8")
        head = (f"POST /v1/{use_case} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode("ascii")
        sock = self._open()
        try:
            sock.sendall(head + body)
            status, keep, data = self._answer()
        except (OSError, EOFError, ValueError):
            self.close()
            raise _stopped(self.address) from None
        if not keep:
            self.close()
        return _value_of(status, data, self.address)

    def _open(self) -> socket.socket:
        if self.sock is not None and _dropped(self.sock):
            self.close()
        if self.sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.path)
            except OSError as exc:
                sock.close()
                raise StorageUnavailable(_("cannot reach the server at {address}: {error}").format(
                    address=self.address, error=exc.strerror or str(exc))) from None
            self.sock, self.file = sock, sock.makefile("rb")
        return self.sock

    def _answer(self) -> tuple[int, bool, bytes]:
        """The status, whether the server keeps the connection, and the whole body."""
        status, headers = _read_head(self.file)
        keep = headers.get(b"connection", b"").lower() != b"close"
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            data = b"".join(_read_chunks(self.file, trailer=True))
        else:
            length = int(headers.get(b"content-length", b"-1"))
            if length < 0:  # no length: the body ends where the server closes
                data, keep = self.file.read(), False
            else:
                data = self.file.read(length)
                if len(data) < length:
                    raise EOFError
        return status, keep, data

    def close(self) -> None:
        file, sock, self.file, self.sock = self.file, self.sock, None, None
        try:
            if file is not None:
                file.close()
        finally:
            if sock is not None:
                sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection was closed by the server (readable at once, with nothing to read)."""
    import select

    try:
        readable, _w, _x = select.select([sock], [], [], 0)
        return bool(readable) and not sock.recv(1, socket.MSG_PEEK)
    except OSError:
        return True


def _items(answer: _Answer, address: str) -> Iterator[Any]:
    """A streamed list's items, decoded one line at a time (``indsats.server.stream``)."""
    try:
        for line in answer.lines():
            try:
                item = json.loads(line)
            except ValueError:
                raise StorageUnavailable(_("the server at {address} sent something that is not JSON").format(address=address)) from None
            if isinstance(item, dict) and len(item) == 1:
                if STREAM_END in item:
                    return
                if STREAM_PROBLEM in item:
                    raise _error_of(item[STREAM_PROBLEM], address)
            yield wire.decode(item)
        raise _stopped(address, part_way=True)
    except EOFError:
        raise _stopped(address, part_way=True) from None
    finally:
        answer.close()


def _stopped(address: str, *, part_way: bool = False) -> StorageUnavailable:
    if part_way:
        return StorageUnavailable(_("the server at {address} stopped part way through the list; what was shown is "
                                    "not all of it").format(address=address))
    return StorageUnavailable(
        _("the server at {address} stopped before answering; the command may or may not have been done "
          "(look with 'indsats show' or 'indsats history')").format(address=address)
    )


def _error_of(problem: Any, address: str) -> IndsatsError:
    if not isinstance(problem, dict) or "exit_code" not in problem:
        return StorageUnavailable(_("the server at {address} answered without a problem document").format(address=address))
    cls = ERRORS.get(int(problem["exit_code"]), IndsatsError)
    return cls(str(problem.get("detail") or problem.get("title") or _("the server refused")))


def _refuse_existing_targets(use_case: str, args: dict[str, Any]) -> None:
    """An export must not overwrite a file: say so before the server records that it exported anything."""
    if use_case in ("archive.export", "subject.export") and isinstance(args.get("path"), str):
        target = Path(args["path"])
        if target.exists():
            raise Invalid(_("{target} exists already; choose a new file name").format(target=target))
