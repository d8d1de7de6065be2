"""``python -m gmmgen.tracking.cluster start|stop|status``: see :mod:`gmmgen.tracking.cluster`."""

import sys

from gmmgen.tracking.cluster.commands import main

sys.exit(main())
