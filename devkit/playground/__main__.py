"""`python -m devkit.playground` (the same as `python -m bot playground`)."""

import sys

from devkit.playground import main

sys.exit(main())
