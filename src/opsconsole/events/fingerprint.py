"""Fingerprints: what makes two events "the same alert".

Source, CI, check and resource, unless the source gives a key of its own (Alertmanager's
fingerprint, a sender's --key): then source and key. The CI is its CMDB id when the CMDB knows
it, else the name the event gave, so an unknown host still dedups with itself.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

_SEP = "\x1f"


def ci_token(ci_id: int | None, ci_name: str) -> str:
    return f"id:{ci_id}" if ci_id is not None else f"name:{ci_name.strip().lower()}"


@lru_cache(maxsize=65536)  # a stream repeats the same few thousand series
def fingerprint(
    source: str, ci_id: int | None, ci_name: str, check: str, resource: str, key: str | None
) -> str:
    parts = ("k", source, key) if key else ("c", source, ci_token(ci_id, ci_name), check, resource)
    return hashlib.sha1(_SEP.join(parts).encode("utf-8")).hexdigest()
