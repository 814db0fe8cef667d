"""Storage shared by the services and the domain packages: the audit log, the STIX object store,
the TAXII collections and the lookups that carry no business decision. Nothing here imports a
service, a domain package or an interface."""
