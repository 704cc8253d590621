"""Command line: thin wrappers that parse options, call the stages and print.

Exit codes: 0 success / no changes, 2 a plan has changes, 1 a user error (never a traceback),
3 an internal error (traceback and a request to report it).
"""
from __future__ import annotations

import gc
import sys
import traceback

import click

from .. import __version__
from ..diagnostics import UserError
from .common import Ctx, emit_user_error
from . import core as _core
from . import history as _history
from . import live as _live
from . import interchange as _interchange
from . import questions as _questions
from . import state as _state

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_BUG = 0, 1, 2, 3
REPORT_URL = "the edcconf issue tracker"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edcconf")
@click.option("--config", "config", type=click.Path(file_okay=False), envvar="EDCCONF_CONFIG", default=None,
              help="Configuration directory (default: the current directory).")
@click.option("--no-color", is_flag=True, envvar="NO_COLOR", help="Never colour the output.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, no_color: bool) -> None:
    """edcconf: who may do what in your EDC systems, declared in YAML, reviewed as a plan."""
    ctx.obj = Ctx(config=config, color=None if not no_color else False)


# Commands register themselves on `cli`; importing the modules is enough.
_core.register(cli)
_history.register(cli)
_questions.register(cli)
_live.register(cli)
_interchange.register(cli)
_state.register(_interchange.state_group)


def main(argv: list[str] | None = None) -> None:
    # A command is a short batch over millions of small acyclic containers (parsed YAML, the model, the
    # effective state): the cyclic collector's repeated passes over them cost a third of a plan and free
    # nothing (peak RSS unchanged). Reference counting still frees everything; the process ends soon.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _run(argv)
    finally:
        from ..spool import spool
        spool.flush()   # cache entries queued by this command are on disk before it returns
        if collecting:  # in-process callers (tests) get their collector back
            gc.enable()


def _run(argv: list[str] | None) -> None:
    try:
        code = cli.main(args=argv, prog_name="edcconf", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        code = EXIT_ERROR
    except click.ClickException as exc:  # usage errors: exit 1, since 2 means "the plan has changes"
        exc.show()
        code = EXIT_ERROR
    except UserError as exc:
        emit_user_error(exc, json_output="--json" in (argv if argv is not None else sys.argv))
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = 130
    except BrokenPipeError:
        code = EXIT_OK
    except Exception:  # noqa: BLE001 - the last line of defence: a bug, reported as such
        traceback.print_exc()
        click.echo(f"\nedcconf {__version__} hit an internal error (a bug, not your configuration). Please report "
                   f"it to {REPORT_URL} with the traceback above and the command you ran.", err=True)
        code = EXIT_BUG
    sys.exit(code if isinstance(code, int) else EXIT_OK)
