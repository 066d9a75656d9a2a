"""What every command shares: how a user error ends a command."""
from __future__ import annotations

import sys
from typing import Callable, NoReturn, TypeVar

import click

from intervene.listen import wav

EXIT_BAD_INPUT = 2
T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """One `error: ...` line on stderr and exit status 2: bad input, never a traceback."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def read_audio(read: Callable[..., T]) -> T:
    """Read call audio with `read(wav)`, failing cleanly on a file that is not usable audio."""
    try:
        return read(wav)
    except wav.AudioError as e:
        fail(str(e))
