"""Event sources besides monitoring: JSON lines and Prometheus Alertmanager webhooks."""
