"""What the apps lend the core, registered in their `AppConfig.ready()`: long-running listeners
and the overview page's tiles. The core runs and renders them without importing any app.

Registering a name again replaces the earlier entry; entries keep the order of first
registration, which is the order of INSTALLED_APPS.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listener:
    """A long-running follower of an outside event source (a websocket, an SSE stream).

    `follow(stop=...)` runs until `stop` is set, or returns at once when there is nothing to
    follow; it is cancelled on shutdown, so a listener waiting on a socket stops at once.
    """

    name: str
    follow: Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Tile:
    """A block of the overview page: `context(request)` gives what `template` renders;
    `scripts` are static paths the page loads for the tile's live updates."""

    name: str
    template: str
    context: Callable[[HttpRequest], Mapping]
    scripts: tuple[str, ...] = ()


_listeners: dict[str, Listener] = {}
_tiles: dict[str, Tile] = {}


def register_listener(name: str, follow: Callable[..., Awaitable[None]]) -> None:
    _listeners[name] = Listener(name, follow)


def listeners(names: Iterable[str] = ()) -> list[Listener]:
    """The registered listeners, or only those named (an unknown name raises KeyError)."""
    names = list(names)
    if not names:
        return list(_listeners.values())
    unknown = [name for name in names if name not in _listeners]
    if unknown:
        raise KeyError(f"no listener named {', '.join(unknown)} (known: {', '.join(_listeners)})")
    return [_listeners[name] for name in names]


def register_tile(
    name: str,
    *,
    template: str,
    context: Callable[[HttpRequest], Mapping],
    scripts: Iterable[str] = (),
) -> None:
    _tiles[name] = Tile(name, template, context, tuple(scripts))


def tiles() -> list[Tile]:
    return list(_tiles.values())


async def run_listeners(selected: Iterable[Listener], *, stop: asyncio.Event) -> None:
    """Runs the listeners side by side until `stop` is set or all of them have returned, then
    cancels those still running. A failing listener is logged and leaves the others running."""
    tasks = [asyncio.create_task(item.follow(stop=stop), name=item.name) for item in selected]
    finished = asyncio.gather(*tasks, return_exceptions=True)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopped, finished], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        for task in tasks:
            task.cancel()
        results = await finished
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, Exception):
                logger.error("listener %s failed", task.get_name(), exc_info=result)
