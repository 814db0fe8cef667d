"""Pure STIX 2.1 code: observables, TLP 2.0 markings, building and validating objects.

Nothing in this package imports Flask or touches the database.
"""
