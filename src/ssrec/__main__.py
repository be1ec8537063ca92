"""``python -m ssrec`` runs the command line."""

import sys

from ssrec.cli import main

sys.exit(main())
