"""Kept only while claims.py and matrix.py (being reworked by another engineer) still import it: use leaklab.errors."""

from .errors import *  # noqa: F403
from .errors import __all__  # noqa: F401
