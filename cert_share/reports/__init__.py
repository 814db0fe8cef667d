"""Published reports built from the platform's data: the transparency report.

``transparency.build`` aggregates (a pure document, TLP:CLEAR by construction);
``render`` turns it into CSV, JSON or a printable HTML page; ``cli`` is ``cert-share report``.
"""
