"""``python -m hwnas.cli``: the ``hwnas`` command."""

import sys

from hwnas.cli.main import main

sys.exit(main())
