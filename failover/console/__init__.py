"""The live web console: what one controller sees, as one JSON view a page renders.

:mod:`failover.console.view` builds the view from the controller's status, its recent
events and the sparkline history (pure: no clock, no I/O); the controller's API serves it
(:mod:`failover.controller.console_api`) with the page in ``static/console.html``.
"""
