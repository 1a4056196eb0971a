"""The student's JupyterLab: ``python -m bptt.lab [JupyterLab options]``.

``make lab`` and the student bundle's README both start JupyterLab this way. It
opens on ``notebooks/`` (the current folder if there is none) with nbgrader's
student tools, the assignment list and the Validate button, and without its
instructor tools: the formgrader, the course list and create-assignment.

Those are switched off, server extensions and JupyterLab plugins alike, by the
configuration folder ``jupyter_config/`` beside this module, put in front of
``JUPYTER_CONFIG_PATH`` for this launch only. Nothing is written anywhere, so
``make formgrader`` in the same environment keeps its formgrader. The folder
holds only files that Jupyter merges key by key (``jupyter_server_config.d/``
and ``labconfig/page_config.json``, never a ``jupyter_server_config.json``,
whose settings replace those of other folders whole) and names only those
tools: every other setting of the environment and of the user still applies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jupyterlab.labapp import LabApp

CONFIG = Path(__file__).resolve().with_name("jupyter_config")


def lab_arguments(options: list[str]) -> list[str]:
    """JupyterLab's command line: the notebooks folder, root's consent, then ``options``."""
    notebooks = Path("notebooks")
    root = notebooks if notebooks.is_dir() else Path(".")
    arguments = [f"--ServerApp.root_dir={root.resolve()}"]
    # Jupyter refuses to run as root unless told; containers and CI machines often are root.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        arguments.append("--allow-root")
    return arguments + options


def student_config_path() -> str:
    """``JUPYTER_CONFIG_PATH`` with the student configuration folder in front."""
    paths = [str(CONFIG), os.environ.get("JUPYTER_CONFIG_PATH", "")]
    return os.pathsep.join(path for path in paths if path)


def main(options: list[str]) -> None:
    """Start JupyterLab in this process, configured for a student."""
    os.environ["JUPYTER_CONFIG_PATH"] = student_config_path()
    LabApp.launch_instance(argv=lab_arguments(options))


if __name__ == "__main__":
    main(sys.argv[1:])
