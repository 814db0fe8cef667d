"""Authentication for the machine channels (API and TAXII): bearer and basic tokens only.

The web session cookie is never consulted here, so a browser session cannot be replayed
against the API or TAXII (and CSRF cannot reach them).
"""
