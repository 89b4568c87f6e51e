"""Protocol-faithful local fakes of the providers, for tests, drills and the demo.

Shipped in the package (like ``structlog.testing``) so anyone can drill against them:
``crisiscast sandbox`` runs them on 127.0.0.1.
"""
