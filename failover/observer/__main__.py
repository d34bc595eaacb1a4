"""``python -m failover.observer``: one site's observer (settings from ``WATERTIGHT_*``)."""

from __future__ import annotations

import sys

from failover.observer.main import main

if __name__ == "__main__":
    sys.exit(main())
