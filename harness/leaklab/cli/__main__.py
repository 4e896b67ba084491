"""``python -m leaklab.cli ...``: the ``leaklab`` command, run by the Python given."""

import sys

from . import main

sys.exit(main())
