"""The use cases the command line asks for, by name: run here (direct mode) or by ``indsats server``.

Commands never call the engine themselves; they call ``Obj.run(NAME, **args)``, which either runs the use
case in this process (``run`` below) or sends it to the server (``indsats.client``), and they render the
value that comes back the same way in both modes. Arguments are plain JSON values (text, numbers, flags,
lists); anything that needs parsing is parsed on the engine's side, so the client imports nothing heavy.

Adding a command's use case is one line in ``indsats.usecases.table``::

    "pause": UseCase("indsats.engine.cases.pause:pause_case"),   # f(ctx, *, actor, **args)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indsats.errors import NotFound
from indsats.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable

    from indsats.config import Settings
    from indsats.engine.context import Context


@dataclass(frozen=True)
class UseCase:
    """Where a use case lives, and how it is called.

    ``style``: ``"actor"`` calls ``f(ctx, *, actor, **args)`` (the use case checks the actor itself);
    ``"call"`` calls ``f(call, **args)`` with the whole ``Call`` (settings, mode, clock override).
    ``direct_only``: runs only in direct mode (the service user's own tasks: init, backup, the worker, keys).
    ``streams``: returns an iterator read in pages, which the server sends item by item as it reads them (to a
    client that accepts JSON lines, as the CLI's does) and the client hands on as they arrive
    (``indsats.server.stream``), so neither holds the list.
    ``reads``: only reads (it writes no row, not even the access log's): on SQLite the server runs it in its
    thread pool, beside the use cases that write, which run one after another on one thread of their own.
    ``batches``: on SQLite the server may run several requests for it in one transaction, a savepoint each, with
    one commit (group commit, ``indsats.server.app``): its writes must be one hot unit of work
    (``unit_of_work(write=True, read_first=True)``), and it must do nothing outside the database that assumes
    its writes are committed when it returns.
    """

    target: str  # "module:function"
    style: str = "actor"
    direct_only: bool = False
    streams: bool = False
    reads: bool = False
    batches: bool = False

    def function(self) -> Callable[..., Any]:
        import importlib

        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


@dataclass(frozen=True, kw_only=True)
class Call:
    """Who asks and in which setting: the actor, the context, the settings, and whether a server runs it."""

    ctx: Context
    actor: str
    settings: Settings
    served: bool = False  # through `indsats server`: its clock is the only clock

    def at(self, text: str | None) -> Context:
        """The context, or a copy whose clock stands at ``text`` (``--at``)."""
        if text is None:
            return self.ctx
        from indsats.engine.time.clock import FixedClock, parse_time

        return dataclasses.replace(self.ctx, clock=FixedClock(parse_time(text)))


def use_case(name: str) -> UseCase:
    from indsats.usecases.table import USE_CASES

    found = USE_CASES.get(name)
    if found is None:
        raise NotFound(_("no use case '{name}'").format(name=name))
    return found


def run(name: str, call: Call, args: dict[str, Any]) -> Any:
    """Run the use case ``name`` for ``call.actor`` with ``args``; return its value."""
    case = use_case(name)
    fn = case.function()
    if case.style == "actor":
        return fn(call.ctx, actor=call.actor, **args)
    return fn(call, **args)


def require_registered(ctx: Context, actor: str) -> None:
    """``NotAllowed`` unless ``actor`` is a registered, active user."""
    from indsats.engine.org.users import require_actor

    with ctx.db.unit_of_work() as uow:
        require_actor(uow.repo, actor)
