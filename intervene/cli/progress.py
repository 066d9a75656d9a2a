"""Progress of long commands (`kb import`, `eval`, `calls import`, `tune`,
`report`): a bar with counts and time left, on stderr, only on a terminal.

Standard output is the commands' result (often JSON piped into something),
so the bar never goes there; a log file or a CI job gets nothing either
(stderr not a terminal), and `intervene --quiet` turns it off everywhere. The
layers below report progress through a plain `(done, total)` callback, so
they know nothing of terminals and their tests need none.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable, Optional, TextIO

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

Progress = Callable[[int, int], None]
QUIET_KEY = "intervene.quiet"          # in the click context's meta: set by `intervene --quiet`


def _stderr() -> TextIO:
    """Where the bar goes (a function, so a test can hand it a terminal)."""
    return sys.stderr


def quiet() -> bool:
    """`intervene --quiet` was given (False outside a command, e.g. in a library call)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(QUIET_KEY))


class Bar:
    """A `(done, total)` callback drawing a bar for some work; one that does
    nothing when stderr is not a terminal or --quiet was given. `total` may
    change as the work finds out its size (the callback's second argument
    wins). Use it in a `with` block, or call `close()` when the work ends."""

    def __init__(self, label: str, total: int = 0, file: Optional[TextIO] = None) -> None:
        out = file if file is not None else _stderr()
        self.shown = not quiet() and out.isatty()
        self._bar: "Optional[ProgressBar[int]]" = None
        if self.shown:
            self._bar = click.progressbar(length=total, label=label, file=out, show_pos=True, show_eta=True,
                                          show_percent=True)
            self._bar.__enter__()

    def __call__(self, done: int, total: int) -> None:
        bar = self._bar
        if bar is None:
            return
        bar.length = total
        if done > bar.pos:
            bar.update(done - bar.pos)
        else:
            bar.render_progress()

    def close(self) -> None:
        """The work is over (or failed): the bar's line ends, and later output starts on a fresh line."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.__exit__(None, None, None)

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(label: str, total: int = 0, file: Optional[TextIO] = None) -> Bar:
    """The bar for one long job: `with progress("importing", n) as report: ... report(i, n)`."""
    return Bar(label, total, file)


def offset(report: Progress, before: int, total: int) -> Progress:
    """`report` for one part of a larger job: the part's (done, _) counted
    after the `before` items already done, out of the job's `total`."""
    def part(done: int, _part_total: int) -> None:
        report(before + done, total)
    return part
