"""How the lead flow reaches the database without blocking the event loop.

The service hands every database call to its one StoreWorker
(store/worker.py) and awaits it; tests and tools that own their process
may run the same calls inline. Both look the same to the lead code.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol, TypeVar

T = TypeVar("T")


class DbRunner(Protocol):
    """Runs `fn(*args, **kwargs)` where database work may run: the
    StoreWorker's thread in the service, or Inline."""

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]: ...

    def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Hand over without waiting (in order, kept until it goes in)."""


class Inline:
    """Database work run right away, on the caller's thread: only where no
    event loop serves others (tests, the CLI). The service passes its worker."""

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        fn(*args, **kwargs)
