"""One progress bar for long lifecycle commands (export, import, backup, migrate, dupes): a
callback ``(phase, done, total)`` drawn on stderr when it is a terminal, a no-op otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from akindb.cli.common import err, progress_enabled

PhaseProgress = Callable[[str, int, int], None]


@contextlib.contextmanager
def phase_bar(enabled: bool = True) -> Iterator[PhaseProgress | None]:
    """Yield a ``(phase, done, total)`` callback (``None`` when there is nothing to draw on);
    a total of 0 means unknown."""
    if not (enabled and progress_enabled()):
        yield None
        return
    # Imported here: a command that draws no bar (akindb search) never loads rich.progress.
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=err, transient=False,
    ) as bar:
        tasks: dict[str, object] = {}

        def tick(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or None)
            bar.update(tasks[phase], completed=done, total=total or None)  # type: ignore[arg-type]

        yield tick
