import sys

from opskit.cli import main

sys.exit(main())
