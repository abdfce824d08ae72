"""`python -m cibench.cli`: the same as the `cibench` command."""

import sys

from cibench.cli import main

sys.exit(main())
