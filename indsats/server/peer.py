"""Who is calling: the kernel's answer for a unix-socket connection (``SO_PEERCRED``), never the client's word;
over TCP (``--listen``), the login of a verified bearer token.

uvicorn puts no peer credentials in the ASGI scope (its ``client`` is None on a unix socket); its ``http=``
setting takes a protocol class, so ``PeerCredentialsProtocol`` reads them when the connection is made and
hands them to the app as ``scope["extensions"]["indsats.peer"]``. It is uvicorn's httptools protocol (the C
parser of llhttp): with h11, pure Python, 4 clients advanced about 10 % slower (BENCHMARKS.md).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from indsats.errors import NotAllowed
from indsats.i18n import _

EXTENSION = "indsats.peer"
# A bearer token's verified login, set by ``indsats.server.web.auth.BearerIdentity`` on the TCP listener only.
LOGIN_EXTENSION = "indsats.login"


@dataclass(frozen=True, kw_only=True)
class Peer:
    """The process at the other end of the socket, as the kernel saw it when it connected."""

    pid: int
    uid: int
    gid: int


def peer_of(sock: socket.socket) -> Peer:
    """``SO_PEERCRED`` of a connected unix socket."""
    pid, uid, gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return Peer(pid=pid, uid=uid, gid=gid)


@lru_cache(maxsize=1024)
def login_of(uid: int) -> str:
    """The OS login of ``uid`` (on a municipal server the AD login, via SSSD), or ``NotAllowed``."""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise NotAllowed(_("uid {uid} has no login on this machine").format(uid=uid)) from None


class _WithPeer:
    """The ASGI app, with this connection's peer added to every request's scope."""

    def __init__(self, app: Any, peer: Peer | None) -> None:
        self.app = app
        self.peer = peer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope.setdefault("extensions", {})[EXTENSION] = self.peer
        await self.app(scope, receive, send)


class PeerCredentialsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, reading the peer's credentials once per connection."""

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        peer = None
        if sock is not None and sock.family == socket.AF_UNIX:
            peer = peer_of(sock)
        self.app = _WithPeer(self.app, peer)
        super().connection_made(transport)
