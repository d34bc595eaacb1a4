"""``python -m failover.controller``: one site's controller and its API."""

from __future__ import annotations

import sys

from failover.controller.main import main

if __name__ == "__main__":
    sys.exit(main())
