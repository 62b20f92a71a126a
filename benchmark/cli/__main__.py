"""``python -m lensbench.cli``: the same as the ``lensbench`` command."""

import sys

from lensbench.cli import main

sys.exit(main())
