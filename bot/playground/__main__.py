"""`python -m bot.playground` (the same as `python -m bot playground`)."""

import sys

from bot.playground import main

sys.exit(main())
