# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the get-pip bootstrap script that ansible-test downloads from a
host this project's machines cannot reach. It seeds pip with the interpreter's
own ensurepip, then installs the pinned pip ansible-test asks for from PyPI.
scripts/test places it in ansible-test's cache, in a HOME of its own."""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
