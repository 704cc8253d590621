"""Command line: thin wrappers that parse options, call the stages and print.

Exit codes: 0 success / no changes, 2 a plan has changes, 1 a user error (never a traceback; the file
system refusing a write is one), 3 an internal error (traceback and a request to report it), 130 Ctrl-C.
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
FLUSH_AFTER_INTERRUPT = 2.0  # seconds the cache writes may still take after Ctrl-C
REPORT_URL = "the edcconf issue tracker"


def _interrupted() -> int:
    """Ctrl-C: one short line and the shell's exit code for SIGINT, never a traceback."""
    try:
        sys.stderr.write("Interrupted.\n")
        sys.stderr.flush()
    except (OSError, ValueError, KeyboardInterrupt):
        pass
    return EXIT_INTERRUPTED


def _from_interrupt(exc: BaseException) -> bool:
    """Whether Ctrl-C is what this exception carries: Python wraps a KeyboardInterrupt raised while a
    class is being made (a module loading, `__set_name__`) in a RuntimeError whose cause it is."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


try:  # Ctrl-C while the command is still loading (a third of a second) ends it as any other Ctrl-C
    # (here, not in __main__: the `edcconf` console script imports this module directly)
    import atexit
    import gc
    import os
    import signal
    import traceback
    from collections.abc import Callable

    import click

    from .. import __version__
    from ..diagnostics import UserError
    from ..fs import FILE_SYSTEM_ERRNOS, file_system_error
    from ..log import configure as configure_logging
    from ..speed.spool import spool
    from . import alerts as _alerts
    from . import applied as _applied
    from . import complete as _complete
    from . import core as _core
    from . import fmt as _fmt
    from . import history as _history
    from . import interchange as _interchange
    from . import live as _live
    from . import questions as _questions
    from . import reviews as _reviews
    from . import scaffold as _scaffold
    from . import state as _state
    from .common import Ctx, accept_no_color_everywhere, emit_user_error
except BaseException as exc:  # re-raised unless it is Ctrl-C underneath
    if not _from_interrupt(exc):
        raise
    raise SystemExit(_interrupted()) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edcconf")
@click.option(
    "--config",
    "config",
    type=click.Path(file_okay=False),
    envvar="EDCCONF_CONFIG",
    default=None,
    help="Configuration directory (default: the nearest folder upwards with environments/).",
)
@click.option("--no-color", is_flag=True, help="Never colour the output (so does NO_COLOR set to any value).")
@click.option(
    "-v", "--verbose", count=True, help="Log what each stage does on standard error (-vv: debug; or EDCCONF_LOG=debug)."
)
@click.pass_context
def cli(ctx: click.Context, config: str | None, no_color: bool, verbose: int) -> None:
    """edcconf: who may do what in your EDC systems, declared in YAML, reviewed as a plan."""
    configure_logging(verbose)
    ctx.obj = Ctx(config=config, color=None if not no_color else False)


# Commands register themselves on `cli`; importing the modules is enough.
_core.register(cli)
_applied.register(cli)
_history.register(cli)
_questions.register(cli)
_alerts.register(cli)  # after questions: `compliance` gains its alert subcommands
_live.register(cli)
_interchange.register(cli)
_scaffold.register(cli)
_fmt.register(cli)
_reviews.register(cli)
_state.register(_interchange.state_group)
_complete.attach(cli)
accept_no_color_everywhere(cli)


def run() -> None:
    """The `edcconf` program (console script, `python -m edcconf`): main() owning the process."""
    main(owns_process=True)


def main(argv: list[str] | None = None, owns_process: bool = False) -> None:
    # A command is a short batch over millions of small acyclic containers (parsed YAML, the model, the
    # effective state): the cyclic collector's repeated passes over them cost a third of a plan and free
    # nothing (peak RSS unchanged). Reference counting still frees everything; the process ends soon.
    collecting = gc.isenabled()
    gc.disable()
    restore = _interrupts_end_here()
    unhook: Callable[[], None] | None = None
    code = EXIT_INTERRUPTED
    try:
        try:
            from .. import speed

            unhook = speed.install()  # the caches, workers and shared decoding behind the core's hooks
            code = _run(argv)
        except KeyboardInterrupt:  # while the hooks were filled, or while an error was being printed
            code = _interrupted()
        try:
            # cache entries queued by this command are on disk before it returns; after Ctrl-C they get a
            # short while only: a command that was told to stop never waits on a cache (a miss next time)
            spool.flush(None if code != EXIT_INTERRUPTED else FLUSH_AFTER_INTERRUPT)
        except KeyboardInterrupt:
            if code != EXIT_INTERRUPTED:
                code = _interrupted()
    finally:
        if unhook is not None:
            unhook()
        restore()
        if collecting:  # in-process callers (tests) get their collector back
            gc.enable()
    if owns_process:
        _late_interrupts_keep(code)
        # the process ends now: Python's last cyclic collection at exit would walk every object still held
        # (0.1-0.2 s of a plan's wall time at 2,000 studies, more with reviews and qualifications)
        gc.freeze()
    sys.exit(code)


_finished: list[int] = []  # the exit code of the command this process ran, once it is done (see below)


def _late_interrupts_keep(code: int) -> None:
    """The command has done its work and said so: a Ctrl-C during the interpreter's shutdown that follows
    ends the process at once with the command's own exit code. Python's handler would print "Exception
    ignored ... KeyboardInterrupt", or the process would die by SIGINT (-2), and a CI job would count an
    apply that was committed and reported as failed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said on it
            pass

    def late(signum, frame):
        os._exit(code)

    try:
        signal.signal(signal.SIGINT, late)
    except ValueError:  # not the main thread
        return
    _finished.append(code)


@atexit.register  # at import: it runs after the exit work of what is imported later (atexit runs in reverse)
def _late_interrupts_ignored() -> None:
    """After this process's exit work, Python's own finalization puts the default action (death by SIGINT)
    back in place of any handler written in Python, but leaves an ignored signal ignored: from here on a
    Ctrl-C of a finished command is ignored, and the process ends with the command's code."""
    if _finished:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupts_end_here():
    """Ctrl-C reaches every process of the terminal's process group: the forked helpers of this command
    (parse workers, the state prefetch child) ignore it, and this process reports it once. Returns what
    puts the previous handler back."""
    pid = os.getpid()

    def on_interrupt(signum, frame):
        if os.getpid() != pid:
            return  # a forked helper: the command stops it (pool terminated, child killed)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return lambda: None
    if previous is None:  # set outside Python (an embedding host): put back Python's default
        previous = signal.default_int_handler
    return lambda: signal.signal(signal.SIGINT, previous)


def _run(argv: list[str] | None) -> int:
    json_output = "--json" in (argv if argv is not None else sys.argv)
    try:
        code = cli.main(args=argv, prog_name="edcconf", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.Abort as exc:
        if _from_interrupt(exc):  # click's own Ctrl-C
            return _interrupted()
        click.echo("Aborted.", err=True)
        code = EXIT_ERROR
    except click.ClickException as exc:  # usage errors: exit 1, since 2 means "the plan has changes"
        exc.show()
        code = EXIT_ERROR
    except UserError as exc:
        emit_user_error(exc, json_output=json_output)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        code = _interrupted()
    except BrokenPipeError:
        code = EXIT_OK
    except OSError as exc:
        if exc.errno not in FILE_SYSTEM_ERRNOS:
            _internal_error()
            return EXIT_BUG
        # the file system refused (full, read-only, a directory where a file belongs): the user's to fix
        emit_user_error(file_system_error(exc), json_output=json_output)
        code = EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, reported as such
        if _from_interrupt(exc):  # Ctrl-C while a module loaded lazily (wrapped by Python): no bug
            return _interrupted()
        _internal_error()
        code = EXIT_BUG
    return code if isinstance(code, int) else EXIT_OK


def _internal_error() -> None:
    traceback.print_exc()
    click.echo(
        f"\nedcconf {__version__} hit an internal error (a bug, not your configuration). Please report "
        f"it to {REPORT_URL} with the traceback above and the command you ran.",
        err=True,
    )
