"""``python -m usagekit``: the same command as ``usagekit``."""

import sys

from .cli import main

sys.exit(main())
