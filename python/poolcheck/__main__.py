"""`python -m poolcheck ARGS`: runs the installed binary with the same
arguments and exits with its status."""

from __future__ import annotations

import os
import subprocess
import sys

from poolcheck import find_poolcheck_bin


def main() -> int:
    try:
        binary = find_poolcheck_bin()
    except FileNotFoundError as error:
        # 2 is poolcheck's own status for "could not run".
        print(f"poolcheck: {error}", file=sys.stderr)
        return 2
    args = [binary, *sys.argv[1:]]
    if os.name == "posix":
        # Replacing this process passes signals, stdin and the exit status
        # through unchanged.
        os.execv(binary, args)
    # Windows has no real exec: os.execv there starts a child and returns
    # at once, so wait for it and hand its status on.
    try:
        return subprocess.run(args).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
