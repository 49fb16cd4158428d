"""Widgets: small, fed from outside, never reading the store themselves."""
