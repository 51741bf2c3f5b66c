import sys

from flake8_cancel.cli import main

sys.exit(main())
