import sys

from rnncap.cli import main

sys.exit(main())
