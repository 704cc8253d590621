"""Ctrl-C: exit 130 with one short line, never a traceback, wherever it lands (while the command loads,
while forked workers parse, in the middle of a command)."""

import os
import subprocess
import sys
import textwrap

from tests.conftest import CHECKOUT_SITE, REPO, run_inprocess

DAY = "2026-11-24"


def run_script(script: str, root, extra_env=None):
    """A child in its own process group (as a terminal's foreground job): Ctrl-C reaches all of it."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "EDCCONF_NO_CACHE": "1",
        **(extra_env or {}),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(CHECKOUT_SITE), str(REPO)]),
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        start_new_session=True,
    )


def test_ctrl_c_in_a_command_exits_130(mini_repo, monkeypatch):
    """click turns a KeyboardInterrupt inside a command into its Abort ("Aborted.", exit 1): it is still
    an interruption."""
    from edcconf.cli import core

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(core, "plan_environment", interrupted)  # where `plan` looks it up
    monkeypatch.setenv("EDCCONF_NO_CACHE", "1")
    code, out, err = run_inprocess(mini_repo, "plan", "--env", "test", "--at", DAY)
    assert code == 130 and "Interrupted." in err and "Traceback" not in out + err and "Aborted" not in err


def test_ctrl_c_while_forked_workers_parse(mini_repo):
    """The whole process group gets SIGINT while two forked workers parse the files: the workers stay
    quiet (no 'Process ForkPoolWorker' traceback) and the command says it was interrupted, once."""
    r = run_script(
        """
        import os, signal, sys, time
        from edcconf.source import parse_pool
        parent, real = os.getpid(), parse_pool.parse_one
        def parse_one(*args, **kwargs):
            if os.getpid() != parent:
                os.killpg(0, signal.SIGINT)   # Ctrl-C, as the terminal sends it: to every process
                time.sleep(0.5)
            return real(*args, **kwargs)
        parse_pool.parse_one = parse_one
        from edcconf.cli import main
        main(["--config", sys.argv[1], "plan", "--env", "test", "--at", "2026-11-24"])
        """,
        mini_repo,
        {"EDCCONF_WORKERS": "2"},
    )
    assert r.returncode == 130, r
    assert "Traceback" not in r.stderr and "KeyboardInterrupt" not in r.stderr, r.stderr
    assert r.stderr.count("Interrupted.") == 1, r.stderr


def test_ctrl_c_while_the_command_loads(mini_repo):
    """SIGINT while edcconf's modules are still being imported (the first third of a second)."""
    r = run_script(
        """
        import os, signal, sys
        class Interrupting:
            def find_spec(self, name, path=None, target=None):
                if name == "edcconf.pipeline":
                    os.kill(os.getpid(), signal.SIGINT)
                return None
        sys.meta_path.insert(0, Interrupting())
        sys.argv = ["edcconf", "--config", sys.argv[1], "validate"]
        import runpy
        runpy.run_module("edcconf", run_name="__main__")
        """,
        mini_repo,
    )
    assert r.returncode == 130, r
    assert "Traceback" not in r.stderr and r.stderr.strip() == "Interrupted.", r.stderr
