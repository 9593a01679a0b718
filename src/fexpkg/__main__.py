"""`python -m fexpkg`: the fexpkg command (what fexpkg's own rpmbuilds run as %{fexpkg})."""

import sys

from fexpkg.cli import main

sys.exit(main())
