import sys

import rag  # noqa: F401  (sets the offline environment before anything else loads)
from rag.cli import main

sys.exit(main())
