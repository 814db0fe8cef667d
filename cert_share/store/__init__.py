"""Storage shared by the services and the domain packages: the audit log, the STIX object store,
a new report's rows (incidents.py), the TAXII collections, the lookups that carry no business
decision, and every statement whose form depends on the database (rows.py; the SQLite fast
paths sit in the module that needs them, behind the same function as the plain path). Nothing
here imports a service, a domain package or an interface."""
