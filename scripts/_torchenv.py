"""Finding PyTorch: the scripts run under Debian's /usr/bin/python3 with python3-torch.

A `python3` earlier on PATH (pyenv, a virtualenv) usually cannot import Debian's torch. When a
script is run directly and `import torch` fails, it re-executes itself once with /usr/bin/python3
(SGDSTAB_NO_REEXEC=1 in the environment turns that off); if that interpreter cannot import torch
either, the script stops with one line saying what to install.
"""

import os
import sys

DEBIAN_PYTHON = "/usr/bin/python3"
INSTALL_HINT = ("install Debian's packages (apt-get install python3-torch python3-numpy) "
                "and run the script with /usr/bin/python3")


def torch_importable():
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def reexec_with_debian_python():
    """Re-execute the running script with /usr/bin/python3 if that is another interpreter.

    Returns only if no re-execution was possible (already Debian's, disabled, or absent)."""
    if os.environ.get("SGDSTAB_NO_REEXEC"):
        return
    if not os.path.exists(DEBIAN_PYTHON):
        return
    try:
        same = os.path.samefile(sys.executable, DEBIAN_PYTHON)
    except OSError:
        same = False
    if same:
        return
    os.environ["SGDSTAB_NO_REEXEC"] = "1"
    os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)


def require_torch(script):
    """For a script's __main__: make torch importable or exit with a one-line message."""
    if torch_importable():
        return
    reexec_with_debian_python()
    sys.exit("%s: PyTorch and NumPy are not importable by %s: %s" % (script, sys.executable, INSTALL_HINT))
