"""Collectors: this machine through psutil (`local`), the rest through SNMP (`snmp`),
chosen per CI by `dispatch`."""

from __future__ import annotations

import socket


def local_host_name() -> str:
    """The CI name of the machine the console runs on (known before psutil is imported)."""
    return socket.gethostname() or "localhost"
