"""``python -m maplevm`` is the ``maplevm`` command."""

import sys

from maplevm.cli import main

sys.exit(main())
