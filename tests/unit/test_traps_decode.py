"""Turning trap varbinds into display-safe text and a TrapMessage, without a network."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c

from opsconsole import clock
from opsconsole.monitoring.traps import (
    DEFAULT_TRAP_PORT,
    KIND_ENTERPRISE,
    TrapMessage,
    TrapReceiver,
    build_trap_message,
    display_octets,
    display_value,
    escape_text,
    trap_kind,
)

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"
COLD_START = "1.3.6.1.6.3.1.1.5.1"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
NOW = datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> Iterator[clock.ManualClock]:
    manual = clock.ManualClock(NOW)
    previous = clock.use(manual)
    yield manual
    clock.use(previous)


def oid(dotted: str) -> rfc1902.ObjectName:
    return rfc1902.ObjectName(dotted)


def notification(trap_oid: str, *extra: tuple[str, object]) -> list[tuple[object, object]]:
    """Varbinds the way pysnmp hands them to the callback."""
    return [
        (oid(SYS_UPTIME), rfc1902.TimeTicks(4321)),
        (oid(TRAP_OID), rfc1902.ObjectIdentifier(trap_oid)),
        *((oid(name), value) for name, value in extra),
    ]


def decode(varbinds: list[tuple[object, object]], is_inform: bool = False) -> TrapMessage:
    return build_trap_message(varbinds, sender="127.0.0.9", sender_port=40000, is_inform=is_inform)


# -- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("eth0", "eth0"),
        ("Zürich ✓ 東京", "Zürich ✓ 東京"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("line1\nline2\tx\r", "line1\\x0aline2\\x09x\\x0d"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("c1 csi \x9b31m", "c1 csi \\x9b31m"),  # 8-bit CSI: some terminals obey it
        ("bidi \u202eevil", "bidi \\u202eevil"),
        ("sep\u2028x", "sep\\u2028x"),
        ("lone \udc80", "lone \\udc80"),
        ("", ""),
    ],
)
def test_escape_text(raw: str, shown: str) -> None:
    assert escape_text(raw) == shown


@given(st.text())
def test_escaped_text_never_holds_a_control_character(raw: str) -> None:
    shown = escape_text(raw)
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs"} for c in shown)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"GigabitEthernet0/1", "GigabitEthernet0/1"),
        ("Zürich".encode(), "Zürich"),
        (b"a\x1b[2Jb", "a\\x1b[2Jb"),
        (b"\xff\xfe\x00", "0xfffe00"),  # not UTF-8: hex
        (b"caf\xe9", "0x636166e9"),  # Latin-1 is not UTF-8 either
        (b"\xc2\x9b", "\\x9b"),  # UTF-8 encoded C1 CSI
        (b"", ""),
    ],
)
def test_display_octets(raw: bytes, shown: str) -> None:
    assert display_octets(raw) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (rfc1902.OctetString(b"up since \x1b]0;owned\x07"), "up since \\x1b]0;owned\\x07"),
        (rfc1902.OctetString(b"\x80\x81"), "0x8081"),
        (rfc1902.OctetString("plain text"), "plain text"),
        (rfc1902.Integer32(-7), "-7"),
        (rfc1902.Integer(2), "2"),
        (rfc1902.Counter32(4294967295), "4294967295"),
        (rfc1902.Counter64(2**64 - 1), str(2**64 - 1)),
        (rfc1902.Gauge32(9), "9"),
        (rfc1902.Unsigned32(10), "10"),
        (rfc1902.TimeTicks(12345), "12345"),
        (rfc1902.IpAddress("10.1.2.3"), "10.1.2.3"),
        (rfc1902.ObjectIdentifier("1.3.6.1.4.1.8072.3"), "1.3.6.1.4.1.8072.3"),
        (rfc1902.Opaque(b"\x9f\x78\x04"), "0x9f7804"),
        (rfc1902.Bits(b"\x90"), "0x90"),
        (v2c.Null(""), ""),
        (rfc1905.NoSuchInstance(""), "noSuchInstance"),
        (rfc1905.NoSuchObject(""), "noSuchObject"),
        (rfc1905.EndOfMibView(""), "endOfMibView"),
        ("te\x1bxt", "te\\x1bxt"),
        (b"\x1b", "\\x1b"),
        (42, "42"),
    ],
)
def test_display_value(value: object, shown: str) -> None:
    assert display_value(value) == shown


def test_display_value_of_an_unset_pysnmp_value_does_not_raise() -> None:
    shown = display_value(rfc1902.OctetString())  # a schema object, no value
    assert "\x1b" not in shown
    assert shown


# -- kinds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trap_oid", "kind"),
    [
        ("1.3.6.1.6.3.1.1.5.1", "coldStart"),
        ("1.3.6.1.6.3.1.1.5.2", "warmStart"),
        ("1.3.6.1.6.3.1.1.5.3", "linkDown"),
        ("1.3.6.1.6.3.1.1.5.4", "linkUp"),
        ("1.3.6.1.6.3.1.1.5.5", "authenticationFailure"),
        (".1.3.6.1.6.3.1.1.5.3", "linkDown"),
        ("1.3.6.1.6.3.1.1.5.6", KIND_ENTERPRISE),  # egpNeighborLoss: not one of ours
        ("1.3.6.1.6.3.1.1.5.3.0", KIND_ENTERPRISE),
        ("1.3.6.1.4.1.8072.2.3.0.1", KIND_ENTERPRISE),
        ("", KIND_ENTERPRISE),
    ],
)
def test_trap_kind(trap_oid: str, kind: str) -> None:
    assert trap_kind(trap_oid) == kind


# -- whole messages -------------------------------------------------------------------------


def test_link_down_with_if_index_and_if_descr(frozen_clock: clock.ManualClock) -> None:
    message = decode(
        notification(
            LINK_DOWN,
            (f"{IF_INDEX}.2", rfc1902.Integer(2)),
            (f"{IF_DESCR}.2", rfc1902.OctetString(b"eth0")),
        )
    )
    assert message == TrapMessage(
        sender="127.0.0.9",
        sender_port=40000,
        at=NOW,
        kind="linkDown",
        trap_oid=LINK_DOWN,
        uptime=4321,
        varbinds=(
            (SYS_UPTIME, "4321"),
            (TRAP_OID, LINK_DOWN),
            (f"{IF_INDEX}.2", "2"),
            (f"{IF_DESCR}.2", "eth0"),
        ),
        if_index=2,
        if_name="eth0",
        is_inform=False,
    )


def test_if_name_is_preferred_to_if_descr_and_escaped() -> None:
    message = decode(
        notification(
            LINK_UP,
            (f"{IF_DESCR}.5", rfc1902.OctetString(b"Intel Corporation 82540EM")),
            (f"{IF_NAME}.5", rfc1902.OctetString(b"en\x1bp0s3")),
        )
    )
    assert message.kind == "linkUp"
    assert message.if_name == "en\\x1bp0s3"
    assert message.if_index == 5  # no ifIndex varbind: taken from the instance


def test_if_index_from_the_instance_of_if_admin_status() -> None:
    message = decode(notification(LINK_DOWN, (f"{IF_ADMIN_STATUS}.12", rfc1902.Integer(2))))
    assert (message.if_index, message.if_name) == (12, None)


def test_empty_if_name_falls_back_to_if_descr() -> None:
    message = decode(
        notification(
            LINK_DOWN,
            (f"{IF_NAME}.3", rfc1902.OctetString(b"")),
            (f"{IF_DESCR}.3", rfc1902.OctetString(b"eth2")),
        )
    )
    assert message.if_name == "eth2"


def test_interface_fields_only_for_link_traps() -> None:
    message = decode(
        notification(
            COLD_START,
            (f"{IF_INDEX}.2", rfc1902.Integer(2)),
            (f"{IF_DESCR}.2", rfc1902.OctetString(b"eth0")),
        )
    )
    assert message.kind == "coldStart"
    assert (message.if_index, message.if_name) == (None, None)


def test_enterprise_trap_keeps_every_varbind_as_text() -> None:
    message = decode(
        notification(
            "1.3.6.1.4.1.8072.2.3.0.1",
            ("1.3.6.1.4.1.8072.2.3.2.1", rfc1902.OctetString(b"a\x1b[2Jb")),
            ("1.3.6.1.4.1.8072.2.3.2.2", rfc1902.OctetString(b"\xff\x00")),
            ("1.3.6.1.4.1.8072.2.3.2.3", rfc1902.IpAddress("127.0.0.1")),
        ),
        is_inform=True,
    )
    assert message.kind == "enterprise"
    assert message.is_inform
    assert message.varbinds[2:] == (
        ("1.3.6.1.4.1.8072.2.3.2.1", "a\\x1b[2Jb"),
        ("1.3.6.1.4.1.8072.2.3.2.2", "0xff00"),
        ("1.3.6.1.4.1.8072.2.3.2.3", "127.0.0.1"),
    )


def test_v1_community_never_reaches_the_message() -> None:
    message = decode(
        notification(LINK_DOWN, ("1.3.6.1.6.3.18.1.4.0", rfc1902.OctetString(b"s3cret")))
    )
    assert all("s3cret" not in text for _, text in message.varbinds)
    assert all(name != "1.3.6.1.6.3.18.1.4.0" for name, _ in message.varbinds)


def test_missing_or_odd_header_varbinds() -> None:
    message = decode([(oid("1.3.6.1.4.1.1.1"), rfc1902.Integer(1))])
    assert (message.trap_oid, message.kind, message.uptime) == ("", "enterprise", None)
    odd = decode(
        [
            (oid(SYS_UPTIME), rfc1902.OctetString(b"yesterday")),
            (oid(TRAP_OID), rfc1902.OctetString(b"1.3.6.1.6.3.1.1.5.3")),  # not an OID type
        ]
    )
    assert (odd.trap_oid, odd.kind, odd.uptime) == ("", "enterprise", None)


def test_plain_python_varbinds() -> None:
    message = decode([(SYS_UPTIME, 99), (TRAP_OID, LINK_UP), (f"{IF_INDEX}.4", 4)])
    assert (message.kind, message.uptime, message.if_index) == ("linkUp", 99, 4)


def test_at_comes_from_the_clock(frozen_clock: clock.ManualClock) -> None:
    assert decode(notification(COLD_START)).at == NOW


def test_at_is_aware_utc_with_the_system_clock() -> None:
    at = decode(notification(COLD_START)).at
    assert at.utcoffset() is not None and at.utcoffset() == timedelta(0)


# -- receiver construction (no socket) --------------------------------------------------------


def _ignore(message: TrapMessage) -> None:
    pass


def test_receiver_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="at least one community"):
        TrapReceiver("127.0.0.1", DEFAULT_TRAP_PORT, [], _ignore)
    with pytest.raises(TypeError):
        TrapReceiver("127.0.0.1", DEFAULT_TRAP_PORT, "public", _ignore)
    with pytest.raises(ValueError, match="0-65535"):
        TrapReceiver("127.0.0.1", 70000, ["public"], _ignore)
    with pytest.raises(ValueError, match="non-empty"):
        TrapReceiver("127.0.0.1", 0, [""], _ignore)


def test_receiver_before_start() -> None:
    receiver = TrapReceiver("127.0.0.1", 0, ["s3cret"], _ignore)
    assert DEFAULT_TRAP_PORT == 10162
    assert not receiver.running
    assert receiver.stats.datagrams == 0
    assert "s3cret" not in repr(receiver)
    with pytest.raises(RuntimeError):
        _ = receiver.bound_port
    receiver.stop()  # harmless
