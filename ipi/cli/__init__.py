"""The ``ipi`` command: a thin shell over the library (``ipi.api``); errors become one
clear line, with the exit code docs/guide/commands.md gives.

Here is the frame: the parser with its global options, ``main`` with its exit codes, the
terminal's log. Each group of commands is a module that declares its commands beside
their handlers (its ``register``): ``load``, ``score``, ``alerts``, ``official``,
``capacity``, ``setup``; what they share is in ``common``, re-exported here.

The commands that run Prefect flows (``run``, ``serve``, ``demo``) are added by
``flows/cli.py``, the console script's entry point: the library never imports Prefect.

Built on argparse rather than typer or cyclopts (both come with Prefect): argparse is in
the standard library and starts in a few milliseconds, where typer brings click and rich
(about 0.1 s) into the 0.5 s that ``ipi score`` may take; global options in any position
come from giving every sub-command the same parent parser, and shell completion
(``ipi completion bash``) is written from the same parser by shtab.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ipi import __version__, safe
from ipi.cli import alerts, capacity, load, official, score, setup
from ipi.cli.common import (
    LOCAL_CONFIG,
    SCORE_FIELDS,
    day_arg,
    partly_done,
    print_json,
    print_table,
    refuse_future,
    rows_of,
    settings_of,
)
from ipi.errors import IngestFailed, IpiError, UsageError

if TYPE_CHECKING:
    from ipi.settings import SecretLookup

__all__ = ["LOCAL_CONFIG", "SCORE_FIELDS", "Adder", "Commands", "build_parser", "day_arg",
           "library_commands", "main", "os_error", "partly_done", "print_json",
           "print_table", "reference_markdown", "refuse_future", "rows_of",
           "settings_of", "terminal_log"]

Adder = Callable[["Commands"], None]  # adds commands to the parser (flows/cli.py's)


class Commands:
    """Adds sub-commands, each with the global options (``--config``, ``-v``, ``-q``), so
    they work before or after the command's name."""

    def __init__(self, sub: Any, parent: argparse.ArgumentParser,
                 parser: argparse.ArgumentParser | None = None) -> None:
        self.sub = sub
        self.parent = parent
        self.parser = parser  # a group's own parser: the options of the group alone

    def add(self, name: str, func: Callable[[argparse.Namespace], int], help: str, *,
            json: bool = False, answer: bool = False) -> argparse.ArgumentParser:
        """``json``: it has --json; ``answer``: what it prints is what was asked for, so
        -q keeps it (a listing); else -q silences it (a summary of work done)."""
        p: argparse.ArgumentParser = self.sub.add_parser(name, help=help, description=help,
                                                         parents=[self.parent])
        p.set_defaults(func=func, answer=answer or json)
        if json:
            p.add_argument("--json", action="store_true", help="print JSON")
        return p

    def group(self, name: str, help: str,
              default: Callable[[argparse.Namespace], int] | None = None) -> Commands:
        """Sub-commands under ``name``; ``default``: what ``name`` alone does (else it
        needs a sub-command)."""
        p = self.sub.add_parser(name, help=help, description=help, parents=[self.parent])
        if default is not None:
            p.set_defaults(func=default, answer=True)
        return Commands(p.add_subparsers(dest=f"{name}_command", required=default is None,
                                         metavar="COMMAND"), self.parent, p)



def _global_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """Sub-commands take the options with SUPPRESS as default, so one left out after the
    command does not undo one given before it."""
    parser.add_argument("--config", default=default,
                        help="TOML configuration file (default: $IPI_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log what every step does, tracebacks included")
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="print only what was asked for (listings, JSON) and errors")


# The order in which `ipi --help` lists the library's commands: argparse lists them as
# they are added, and each group module adds its own together. One not named comes last.
def library_commands(c: Commands) -> None:
    """The commands that need no Prefect, group by group, in the order --help lists them:
    loading, reading and what-if, alerts, official scores, capacity and fees, set-up. Each
    group's module declares its own commands beside their handlers (``register``)."""
    for group in (load, score, alerts, official, capacity, setup):
        group.register(c)


def build_parser(extra: Sequence[Adder] = ()) -> argparse.ArgumentParser:
    """The whole command line: ``extra`` adds commands first (flows/cli.py: demo, run,
    serve), then the library's own."""
    p = argparse.ArgumentParser(prog="ipi", description="Watch Amazon's Inventory Performance "
                                "Index every day: reports, factors, an estimate, alerts.")
    p.add_argument("--version", action="version", version=f"ipi {__version__}")
    _global_options(p, default=None)
    p.set_defaults(verbose=False, quiet=False)
    parent = argparse.ArgumentParser(add_help=False)
    _global_options(parent, default=argparse.SUPPRESS)
    c = Commands(p.add_subparsers(dest="command", required=True, metavar="COMMAND"), parent)
    for add in extra:
        add(c)
    library_commands(c)
    return p


def reference_markdown(parser: argparse.ArgumentParser) -> str:
    """The command-line reference as markdown, from the parser itself: every command and
    sub-command with its description, usage and options (docs/reference/cli.md is made
    from it with cog, and CI checks it is current)."""
    out: list[str] = []

    shared = {"help", "config", "verbose", "quiet"}  # said once, at the top

    def options(p: argparse.ArgumentParser, root: bool) -> list[str]:
        rows = []
        for a in p._actions:  # argparse keeps them private; the help formatter reads them too
            if (isinstance(a, argparse._SubParsersAction) or a.help == argparse.SUPPRESS
                    or (not root and a.dest in shared)):
                continue
            flags = ", ".join(f"`{o}`" for o in a.option_strings) or f"`{a.metavar or a.dest}`"
            if a.option_strings and a.nargs != 0:
                flags += f" `{a.metavar or a.dest.upper()}`"
            if a.choices and not a.option_strings:
                flags += f" ({', '.join(map(str, a.choices))})"
            text = (a.help or "").replace("%(default)s", str(a.default)).replace("|", "\\|")
            rows.append(f"| {flags} | {' '.join(text.split())} |")
        return (["| option | meaning |", "|---|---|", *rows, ""] if rows else [])

    def walk(p: argparse.ArgumentParser, name: str, depth: int) -> None:
        out.extend([f"{'#' * depth} `{name}`", ""])
        if p.description:
            text = p.description[:1].upper() + p.description[1:]
            out.extend([text if text.endswith(".") else text + ".", ""])
        usage = " ".join(p.format_usage().removeprefix("usage: ").split())
        out.extend(["```", usage, "```", "", *options(p, depth == 2)])
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub, sp in a.choices.items():
                    walk(sp, f"{name} {sub}", min(depth + 1, 3))

    walk(parser, "ipi", 2)
    return "\n".join(out)


class _OneLine(logging.Formatter):
    """ipi's own warnings on a terminal: one line each, without the logger's name or a
    traceback (the run's log keeps both; -v shows everything)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"ipi: {record.levelname.lower()}: {safe.text(record.getMessage())}"


def _ours(record: logging.LogRecord) -> bool:
    return record.name == "ipi" or record.name.startswith("ipi.")


def terminal_log(verbose: bool, quiet: bool = False) -> None:
    """What the terminal shows: with ``verbose`` every log line, names and tracebacks
    included; else ipi's own warnings, one line each (``quiet``: errors only). Prefect's
    handlers (set when it is imported) give way to ours; other handlers (a test's
    capture) stay."""
    root = logging.getLogger()
    if verbose:
        if not root.handlers:
            logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        for h in root.handlers:
            h.setLevel(logging.INFO)
        return
    for h in list(root.handlers):
        if type(h) is logging.StreamHandler or type(h).__name__ == "PrefectConsoleHandler":
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR if quiet else logging.WARNING)
    handler.addFilter(_ours)
    handler.setFormatter(_OneLine())
    root.addHandler(handler)


def os_error(exc: OSError) -> str:
    """An operating-system failure (disk, folder, permissions) as one line with the fix."""
    where = f"{exc.filename}: " if exc.filename else ""
    fixes = {
        errno.ENOSPC: "no space left on the device: free space under [store] data_dir, then "
                      "run again (loads are atomic: nothing was half-written)",
        errno.EACCES: "permission denied: make it writable for this user, or point "
                      "[store] data_dir elsewhere",
        errno.EPERM: "operation not permitted: make it writable for this user, or point "
                     "[store] data_dir elsewhere",
        errno.EROFS: "read-only file system: point [store] data_dir at a writable folder",
        errno.ENOENT: "no such file or folder: check the path",
        errno.ENOTDIR: "a file stands where a folder is needed: check [store] data_dir and "
                       "the paths given",
        errno.EEXIST: "a file stands where a folder is needed: check [store] data_dir",
    }
    return where + fixes.get(exc.errno or 0, exc.strerror or str(exc))


def main(argv: Sequence[str] | None = None, *, extra: Sequence[Adder] = (),
         secrets: SecretLookup | None = None) -> int:
    """The ``ipi`` command (``extra``: more commands; ``secrets``: how Prefect Secret
    blocks are read, both given by flows/cli.py). Exit codes (docs/guide/commands.md): 0 done;
    1 partly done, each failure listed (files, accounts, checks); 2 nothing done:
    configuration, usage or the machine (a busy or unwritable database, a full disk);
    130 interrupted."""
    argv = alerts.spell_out(sys.argv[1:] if argv is None else argv)
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    if args.verbose and args.quiet:
        parser.error("-v and -q ask for opposite things: give one")
    args.parser, args.secrets = parser, secrets
    # Everything ipi and the Prefect server it starts create (the database, stored reports,
    # pages, Prefect's own database) is this user's alone: 0600 files, 0700 folders.
    os.umask(0o077)
    terminal_log(args.verbose, args.quiet)
    # Every print reaches the terminal as text: a SKU, product or file name holding an
    # escape sequence cannot move the cursor, recolour or retitle it (ipi.safe).
    err = safe.Terminal(sys.stderr)
    try:
        with contextlib.ExitStack() as stack:
            if args.quiet and not args.answer:  # -q keeps listings; summaries of work go
                devnull = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
                stack.enter_context(contextlib.redirect_stdout(devnull))
            else:
                stack.enter_context(contextlib.redirect_stdout(safe.Terminal(sys.stdout)))
            return int(args.func(args))
    except BrokenPipeError:
        # The reader left (`ipi capacity | head`): what it read was what it wanted. Point
        # stdout at /dev/null so that the exit's own flush finds no closed pipe either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except IngestFailed as exc:
        print(f"ipi: {exc}", file=err)
        return 1
    except UsageError as exc:  # the library says what to give; the options are in --help
        words = [args.command, getattr(args, f"{args.command}_command", None)]
        print(f"ipi: error: {exc} (ipi {' '.join(w for w in words if w)} --help)", file=err)
        return 2
    except IpiError as exc:
        print(f"ipi: error: {exc}", file=err)
        return 2
    except OSError as exc:  # the machine's, not ipi's: said in one line, with the fix
        print(f"ipi: error: {os_error(exc)}", file=err)
        return 2
    except KeyboardInterrupt:
        print("ipi: interrupted; loads are atomic, nothing was half-written (a backfill "
              "resumes where it stopped when run again)", file=sys.stderr)
        return 130
