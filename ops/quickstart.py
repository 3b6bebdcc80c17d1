#!/usr/bin/env python3
"""Set everything up in ./.venv and run the node or the whole test suite.

    python3 ops/quickstart.py node [node options...]   # a dev node on 127.0.0.1:8545
    python3 ops/quickstart.py test [pytest options...] # lint + the whole test suite

Needs only Python 3.11+, pip and git. Reinstalls only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".hiveledger-installed"
NO_TESTS_COLLECTED = 5


def run(*args: str | Path, **kwargs: object) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.call([str(a) for a in args], cwd=ROOT, **kwargs)  # type: ignore[arg-type]


def ensure_env(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may run on an older python3
        sys.exit(f"hiveledger needs Python 3.11 or newer, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    project = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists():  # "<pyproject hash> <extras installed>"; test extras include the base
        have_project, _, have_extras = STAMP.read_text().partition(" ")
        if have_project == project and (not extras or extras in have_extras.split(",")):
            return
    if run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip") != 0:
        sys.exit("pip upgrade failed")
    target = f".[{extras}]" if extras else "."
    if run(PY, "-m", "pip", "install", "--quiet", "-e", target) != 0:
        sys.exit("installing hiveledger failed")
    STAMP.write_text(f"{project} {extras}")


def node(args: list[str]) -> int:
    ensure_env("")
    if not any(a == "--dev" or a.startswith("--nats") for a in args):
        args = ["--dev", *args]
    command = [str(BIN / "hiveledger"), "node", *args]
    print("+", " ".join(command), flush=True)
    if os.name == "posix":  # become the node: signals (Ctrl-C, SIGTERM) reach it directly
        os.execv(command[0], command)
    return run(*command)


def test(args: list[str]) -> int:
    ensure_env("test")
    if run(PY, "-m", "ruff", "check", ".") != 0:
        return 1
    workers = os.environ.get("HIVELEDGER_TEST_WORKERS", "2")
    code = run(PY, "-m", "pytest", "-n", workers, "--dist", "loadfile", *args)
    if code == NO_TESTS_COLLECTED:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"node", "test"}:
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    return node(rest) if command == "node" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
