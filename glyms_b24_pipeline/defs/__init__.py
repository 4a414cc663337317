"""The definitions of the code location, one package per domain: services, companies, maintenance."""
