"""``python -m dlwa``: the same entry point as the ``dlwa`` command."""

import sys

from dlwa.cli import main

sys.exit(main())
