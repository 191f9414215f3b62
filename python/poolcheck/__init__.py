"""poolcheck's Python package: the wheel's real content is the `poolcheck`
binary, which pip installs into the environment's scripts directory. This
package only finds that binary, so `python -m poolcheck` works where the
scripts directory is not on PATH."""

from __future__ import annotations

import os
import sys
import sysconfig

__all__ = ["find_poolcheck_bin"]


def _user_scheme() -> str:
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    return "nt_user" if os.name == "nt" else "posix_user"


def find_poolcheck_bin() -> str:
    """The path of the installed `poolcheck` binary.

    Looks where pip puts a wheel's scripts: the running environment's scheme
    (a virtualenv, or the system), then the user scheme (`pip install --user`),
    then `<target>/bin` beside this package (`pip install --target`).
    """
    exe = "poolcheck" + (sysconfig.get_config_var("EXE") or "")
    candidates = [os.path.join(sysconfig.get_path("scripts"), exe)]
    try:
        candidates.append(os.path.join(sysconfig.get_path("scripts", scheme=_user_scheme()), exe))
    except KeyError:
        pass  # an interpreter built without a user scheme
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates.append(os.path.join(package_parent, "bin", exe))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(
        "the poolcheck binary is not installed beside this package; looked in: "
        + ", ".join(candidates)
    )
