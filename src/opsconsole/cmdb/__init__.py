"""The CMDB: configuration items, their relationships, services and impact analysis."""
