"""ITSM: incidents, problems, changes, service requests, SLAs and knowledge."""
