"""The root command group, built lazily: a fresh ``akindb search`` builds (and imports) only
``search``, not the other 30 commands.

Why: typer turns every registered function into a click command up front (signature and type
hints inspected, options made) and the command modules import what their commands need. For
a one-shot process that runs one command that was ~50 ms of CPU of a ~0.6 s cold search
(issue 14; docs/benchmarks.md "Session 7: cold CLI").

How: ``main.py`` lists each installer (a function that registers one module's commands, the
same calls an eager build makes) with the command names it adds. The group's ``commands``
is a mapping that knows every name from that table and builds a command the first time it is
looked up: ``--help``, docs generation and shell completion look up every one, so they see
exactly the eager tree. ``tests/cli/test_cold_cli.py`` checks the table against an eager build
(same names, same order, same help) so a command added to an installer cannot go missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperGroup

from akindb.cli.coercion import prime

Installer = Callable[[typer.Typer], None]
# (installer, the names of the commands it registers, the names of the groups it adds)
Table = Sequence[tuple[Installer, tuple[str, ...], tuple[str, ...]]]


def command_name(info: Any) -> str:
    """The name typer gives a registered command (``name=`` or the function's, dashed)."""
    return str(info.name or typer.main.get_command_name(info.callback.__name__))


class LazyCommands(MutableMapping[str, Any]):
    """Name -> click command, built on first lookup from the installer that registers it.

    Iteration order is typer's for an eager build (every plain command in registration order,
    then every group), so ``--help`` lists the commands as before; commands added later
    (``add_command``) come after."""

    def __init__(self, table: Table, settings: dict[str, Any]) -> None:
        self._owner = {name: row[0] for row in table for name in (*row[1], *row[2])}
        self._order = [n for row in table for n in row[1]] + [n for row in table for n in row[2]]
        self._settings = settings  # Typer(...) keywords the root app was made with
        self._installed: dict[Installer, typer.Typer] = {}
        self._built: dict[str, Any] = {}

    def _registry(self, installer: Installer) -> typer.Typer:
        """Each installer runs once: some also add sub-commands to a shared sub-app."""
        if installer not in self._installed:
            holder = typer.Typer(**self._settings)
            installer(holder)
            self._installed[installer] = holder
        return self._installed[installer]

    def _build(self, name: str) -> Any:
        holder = self._registry(self._owner[name])
        only = typer.Typer(**self._settings)
        only.registered_commands = [c for c in holder.registered_commands
                                    if command_name(c) == name]
        only.registered_groups = [g for g in holder.registered_groups if g.name == name]
        group = typer.main.get_group(only)
        command = group.commands.get(name)
        if command is None:  # the table names a command its installer does not register
            raise KeyError(name)
        prime(command)
        return command

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in self._owner:
                raise KeyError(name)
            self._built[name] = self._build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._order:
            self._order.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._order.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._order


class LazyGroup(TyperGroup):
    """A ``TyperGroup`` whose commands come from a ``LazyCommands`` table.

    A subclass sets ``table`` and ``settings`` (typer instantiates the group class itself, so
    they cannot be constructor arguments)."""

    table: ClassVar[Table] = ()
    settings: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        lazy = LazyCommands(self.table, self.settings)
        for name, command in dict(self.commands).items():
            lazy[name] = command
        self.commands = lazy
        prime(self)  # the root's own options (--help); its commands are primed as built


def eager_app(table: Table, settings: dict[str, Any]) -> typer.Typer:
    """Every installer run on one app, in table order: the tree an eager build would make
    (what the root group must match; used by the tests and by nothing on a command's path)."""
    app = typer.Typer(**settings)
    for installer, _commands, _groups in table:
        installer(app)
    return app
