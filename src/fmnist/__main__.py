"""`python -m fmnist` runs the command line."""

import sys

from fmnist.cli import main

sys.exit(main())
