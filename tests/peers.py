"""Real peers the tests talk to (snmpd, PostgreSQL, tmux).

On a bare machine a test that needs a missing peer skips and says why; with
OPSCONSOLE_REQUIRE_PEERS=1 (set by .ci/run) it fails instead, so CI can never go green by
skipping the tests that matter.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_PEERS = os.environ.get("OPSCONSOLE_REQUIRE_PEERS") == "1"
PG_URL_ENV = "OPSCONSOLE_TEST_PG_URL"


def missing_peer(reason: str) -> None:
    """Skip (bare machine) or fail (CI) because a peer is not there."""
    if REQUIRE_PEERS:
        pytest.fail(f"required peer missing: {reason} (OPSCONSOLE_REQUIRE_PEERS=1)")
    pytest.skip(reason)


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_peer(f"{name} not installed (apt-get install {package})")
        raise AssertionError("unreachable")
    return path


def postgres_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        missing_peer(f"{PG_URL_ENV} not set: no PostgreSQL to test against")
        raise AssertionError("unreachable")
    return url
