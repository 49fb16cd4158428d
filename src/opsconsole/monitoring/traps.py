"""SNMP trap and inform receiver (SNMPv2c; SNMPv1 traps are accepted too).

A `TrapReceiver` binds one UDP socket and hands every notification that carries one of the
configured communities to `on_trap` as a `TrapMessage`. Informs are acknowledged by pysnmp
(before `on_trap` runs). Nothing a sender puts in a trap reaches the callback as raw bytes:
every value is rendered by `display_value`, which escapes control characters and shows
non-UTF-8 octets as hex, so a payload can never write terminal escape sequences.

Every datagram lands in exactly one bucket of `TrapStats`:
- `received`: a notification with a configured community, decoded and passed to `on_trap`;
- `dropped_bad_community`: SNMPv1/v2c with an unknown community (pysnmp drops it before the
  application; counted through the observer point `rfc2576.prepareDataElements:sm-failure`);
- `malformed`: not decodable (ASN.1/BER parse errors, counted through pysnmp's
  `snmpInASNParseErrs`, or any exception while processing it);
- `ignored`: well-formed but not for us: requests or responses sent to the trap port, and
  SNMPv3 (not supported here: the v3 message processing model is removed, so the receiver
  never answers v3 discovery with REPORTs).

pysnmp is imported only when a receiver starts or a pysnmp value is rendered, so importing
this module (for `TrapMessage`, say) stays cheap. Everything runs on the event loop that
called `start()`; `on_trap` runs there too and must be quick (hand the message to a queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from opsconsole import clock

log = logging.getLogger(__name__)

DEFAULT_TRAP_PORT: Final = 10162
"""Unprivileged stand-in for the standard port 162."""

SYS_UPTIME_OID: Final = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID_OID: Final = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_COMMUNITY_OID: Final = "1.3.6.1.6.3.18.1.4.0"
"""Added by pysnmp when it translates an SNMPv1 trap: the community, a secret. Never kept."""

IF_INDEX_OID: Final = "1.3.6.1.2.1.2.2.1.1"
IF_DESCR_OID: Final = "1.3.6.1.2.1.2.2.1.2"
IF_NAME_OID: Final = "1.3.6.1.2.1.31.1.1.1.1"
_IF_ENTRY: Final = (1, 3, 6, 1, 2, 1, 2, 2, 1)
_IF_X_ENTRY: Final = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)

KIND_ENTERPRISE: Final = "enterprise"
STANDARD_TRAP_KINDS: Final[Mapping[str, str]] = {
    "1.3.6.1.6.3.1.1.5.1": "coldStart",
    "1.3.6.1.6.3.1.1.5.2": "warmStart",
    "1.3.6.1.6.3.1.1.5.3": "linkDown",
    "1.3.6.1.6.3.1.1.5.4": "linkUp",
    "1.3.6.1.6.3.1.1.5.5": "authenticationFailure",
}
LINK_KINDS: Final = frozenset({"linkDown", "linkUp"})

_DOTTED_OID = re.compile(r"\.?\d+(?:\.\d+)*")
# Characters never shown as themselves: C0/C1 controls and DEL (Cc: terminal escape
# sequences), format characters such as bidi overrides (Cf), line/paragraph separators,
# and lone surrogates (which would not even encode for the terminal).
_ESCAPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_REQUEST_CONTEXT: Final = "rfc3412.receiveMessage:request"
_SM_FAILURE: Final = "rfc2576.prepareDataElements:sm-failure"


@dataclass(frozen=True)
class TrapMessage:
    """One notification as received. Every text field is display-safe plain text."""

    sender: str
    """IP address the datagram came from (not the agent-addr of a v1 trap)."""
    sender_port: int
    at: datetime
    """When it was received, from `opsconsole.clock.now()` (aware, UTC)."""
    kind: str
    """linkDown, linkUp, coldStart, warmStart, authenticationFailure or enterprise."""
    trap_oid: str
    """Value of snmpTrapOID.0, dotted; "" when the sender left it out."""
    uptime: int | None
    """sysUpTime.0 in timeticks (1/100 s), None when absent or not a number."""
    varbinds: tuple[tuple[str, str], ...]
    """All varbinds in order (sysUpTime.0 and snmpTrapOID.0 included) as (dotted OID, text);
    only snmpTrapCommunity.0 (a v1 trap's community) is left out."""
    if_index: int | None
    if_name: str | None
    is_inform: bool


@dataclass(frozen=True)
class TrapStats:
    """Counters since `start()`. datagrams = received + dropped_bad_community + malformed +
    ignored; callback_errors counts `on_trap` calls that raised (included in received)."""

    datagrams: int = 0
    received: int = 0
    dropped_bad_community: int = 0
    malformed: int = 0
    ignored: int = 0
    callback_errors: int = 0


# ---------------------------------------------------------------------------------------
# Rendering values


def escape_text(text: str) -> str:
    """`text` with every control/format character written as a Python-style escape
    (ESC -> `\\x1b`, U+202E -> `\\u202e`); printable text, any script, is kept as is."""
    if text.isprintable():
        return text
    out: list[str] = []
    for char in text:
        if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
            out.append(char)
            continue
        code = ord(char)
        if code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def hex_octets(data: bytes) -> str:
    """`0x` followed by lower-case hex, the way net-snmp and pysnmp show binary strings."""
    return "0x" + data.hex()


def display_octets(data: bytes) -> str:
    """An OCTET STRING for display: valid UTF-8 -> that text with control characters escaped;
    anything else -> hex (`0x...`)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return hex_octets(data)
    return escape_text(text)


def display_value(value: object) -> str:
    """Display text for a varbind value: pysnmp/pyasn1 SNMP types or plain Python values."""
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return display_octets(bytes(value))
    if isinstance(value, int):
        return str(int(value))
    try:
        return _display_asn1(value)
    except Exception:  # an uninitialised or exotic value must not lose the whole trap
        log.debug("cannot render %s value", type(value).__name__, exc_info=True)
        return f"<{escape_text(type(value).__name__)}>"


def _display_asn1(value: object) -> str:
    from pysnmp.proto import rfc1155, rfc1902, rfc1905

    univ = _univ()

    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(part) for part in value.asTuple())
    if isinstance(value, rfc1905.NoSuchObject):
        return "noSuchObject"
    if isinstance(value, rfc1905.NoSuchInstance):
        return "noSuchInstance"
    if isinstance(value, rfc1905.EndOfMibView):
        return "endOfMibView"
    if isinstance(value, univ.Null):
        return ""
    if isinstance(value, univ.Integer):
        return str(int(value))
    if isinstance(value, rfc1902.IpAddress | rfc1155.IpAddress):
        octets = bytes(value.asOctets())
        return ".".join(str(b) for b in octets) if len(octets) == 4 else hex_octets(octets)
    if isinstance(value, rfc1902.Opaque | rfc1155.Opaque | rfc1902.Bits):
        return hex_octets(bytes(value.asOctets()))
    if isinstance(value, univ.OctetString):
        return display_octets(bytes(value.asOctets()))
    if isinstance(value, univ.Choice):  # e.g. a v1 NetworkAddress wrapping an IpAddress
        return display_value(value.getComponent())
    pretty = getattr(value, "prettyPrint", None)
    return escape_text(str(pretty() if callable(pretty) else value))


def _oid_parts(value: object) -> tuple[int, ...] | None:
    """Sub-identifiers of an OID given as a pysnmp ObjectIdentifier/ObjectName, a tuple of
    ints or a dotted string; None for anything else."""
    if isinstance(value, str):
        if not _DOTTED_OID.fullmatch(value):
            return None
        return tuple(int(part) for part in value.lstrip(".").split("."))
    if isinstance(value, tuple):
        return value if all(type(part) is int for part in value) else None
    if _is_asn1(value) and isinstance(value, _univ().ObjectIdentifier):
        return tuple(int(part) for part in value.asTuple())
    return None


def _dotted(parts: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in parts)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if _is_asn1(value) and isinstance(value, _univ().Integer):
        try:
            return int(value)
        except Exception:  # a schema object without a value
            return None
    return None


def _is_asn1(value: object) -> bool:
    return type(value).__module__.startswith(("pyasn1.", "pysnmp."))


def _univ() -> Any:
    """pyasn1's universal types, imported only once SNMP values are around."""
    from pyasn1.type import univ  # type: ignore[import-untyped]

    return univ


def trap_kind(trap_oid: str) -> str:
    """The kind of a notification from its snmpTrapOID.0 (dotted)."""
    return STANDARD_TRAP_KINDS.get(trap_oid.lstrip("."), KIND_ENTERPRISE)


def _parts(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.split("."))


_SYS_UPTIME = _parts(SYS_UPTIME_OID)
_SNMP_TRAP_OID = _parts(SNMP_TRAP_OID_OID)
_SNMP_TRAP_COMMUNITY = _parts(SNMP_TRAP_COMMUNITY_OID)
_IF_INDEX = _parts(IF_INDEX_OID)
_IF_DESCR = _parts(IF_DESCR_OID)
_IF_NAME = _parts(IF_NAME_OID)


def _column_instance(name: tuple[int, ...], column: tuple[int, ...]) -> tuple[int, ...] | None:
    """The instance part of `name` if it is `column` or an instance of it."""
    if name[: len(column)] == column:
        return name[len(column) :]
    return None


def build_trap_message(
    varbinds: Iterable[tuple[object, object]],
    *,
    sender: str,
    sender_port: int,
    is_inform: bool,
    at: datetime | None = None,
) -> TrapMessage:
    """Decode the varbinds of an SNMPv2 notification (names as OIDs, values as pysnmp types or
    plain Python values) into a `TrapMessage`."""
    rendered: list[tuple[str, str]] = []
    trap_oid = ""
    uptime: int | None = None
    if_index: int | None = None
    instance_index: int | None = None
    if_name: str | None = None
    if_descr: str | None = None
    for raw_name, value in varbinds:
        parts = _oid_parts(raw_name)
        name = _dotted(parts) if parts is not None else display_value(raw_name)
        if parts == _SNMP_TRAP_COMMUNITY:
            continue
        text = display_value(value)
        rendered.append((name, text))
        if parts is None:
            continue
        if parts == _SNMP_TRAP_OID and not trap_oid:
            oid_value = _oid_parts(value)
            trap_oid = _dotted(oid_value) if oid_value is not None else ""
        elif parts == _SYS_UPTIME and uptime is None:
            uptime = _as_int(value)
        elif _column_instance(parts, _IF_INDEX) is not None and if_index is None:
            if_index = _as_int(value)
        elif _column_instance(parts, _IF_NAME) is not None and if_name is None and text:
            if_name = text
        elif _column_instance(parts, _IF_DESCR) is not None and if_descr is None and text:
            if_descr = text
        if instance_index is None:
            # ifAdminStatus.N, ifOperStatus.N, ifDescr.N ... all say which interface it is
            for table in (_IF_ENTRY, _IF_X_ENTRY):
                instance = _column_instance(parts, table)
                if instance is not None and len(instance) == 2:
                    instance_index = instance[1]
    kind = trap_kind(trap_oid)
    is_link = kind in LINK_KINDS
    return TrapMessage(
        sender=sender,
        sender_port=sender_port,
        at=at if at is not None else clock.now(),
        kind=kind,
        trap_oid=trap_oid,
        uptime=uptime,
        varbinds=tuple(rendered),
        if_index=(if_index if if_index is not None else instance_index) if is_link else None,
        if_name=(if_name or if_descr) if is_link else None,
        is_inform=is_inform,
    )


# ---------------------------------------------------------------------------------------
# The receiver


class TrapReceiver:
    """Receives SNMPv2c traps and informs (and SNMPv1 traps) on one UDP address.

    `start()` binds (port 0 picks a free port: see `bound_port`), `stop()` closes the socket
    at once. Call both from the event loop that runs the receiver; it can be started again
    after a stop. Exceptions raised by `on_trap` are logged and counted, never propagated.
    """

    def __init__(
        self,
        host: str,
        port: int,
        communities: Collection[str],
        on_trap: Callable[[TrapMessage], None],
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"trap port must be 0-65535, got {port}")
        if isinstance(communities, str):
            raise TypeError("communities must be a collection of strings, not one string")
        unique = tuple(dict.fromkeys(communities))
        if not unique:
            raise ValueError("a trap receiver needs at least one community")
        if not all(isinstance(community, str) and community for community in unique):
            raise ValueError("communities must be non-empty strings")
        self.host = host
        self.port = port
        self._communities = unique  # secrets: kept out of repr and logs
        self._on_trap = on_trap
        self._engine: Any = None
        self._notification_receiver: Any = None
        self._sock: socket.socket | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._bound_port: int | None = None
        self._parse_errors: Any = None
        self._inform_tag: Any = None
        self._outcome: str | None = None
        self._counts = dict.fromkeys(
            ("datagrams", "received", "dropped_bad_community", "malformed", "ignored"), 0
        )
        self._callback_errors = 0

    def __repr__(self) -> str:
        state = f"bound to port {self._bound_port}" if self.running else "stopped"
        return f"<TrapReceiver {self.host}:{self.port} {state}>"

    @property
    def running(self) -> bool:
        return self._engine is not None

    @property
    def bound_port(self) -> int:
        """The UDP port actually bound (the ephemeral one when started with port 0)."""
        if self._bound_port is None:
            raise RuntimeError("the trap receiver is not running")
        return self._bound_port

    @property
    def stats(self) -> TrapStats:
        """A snapshot of the counters."""
        return TrapStats(**self._counts, callback_errors=self._callback_errors)

    async def start(self) -> None:
        """Bind the UDP socket and start receiving. Raises OSError if the address cannot be
        bound (port in use, address not local)."""
        if self.running:
            raise RuntimeError("the trap receiver is already running")
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            self.host, self.port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )
        if not infos:
            raise OSError(f"cannot resolve trap receiver address {self.host!r}")
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        engine = None
        self._counts = dict.fromkeys(self._counts, 0)
        self._callback_errors = 0
        try:
            sock.bind(sockaddr)
            sock.setblocking(False)
            engine, protocol = self._build_engine(family)
            # handlers are all in place before the first datagram can arrive
            transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
        except BaseException:
            if engine is not None:
                self._teardown_engine(engine)
            sock.close()
            raise
        self._engine = engine
        self._sock = sock
        self._transport = transport
        self._bound_port = int(sock.getsockname()[1])
        log.info("SNMP trap receiver listening on %s port %d", self.host, self._bound_port)

    def stop(self) -> None:
        """Stop receiving and free the port now. Safe to call twice or before `start()`."""
        engine, sock, transport = self._engine, self._sock, self._transport
        self._engine = self._sock = self._transport = None
        self._bound_port = None
        if engine is None:
            return
        if transport is not None:
            # drop anything still queued, the socket closes below; RuntimeError: loop closed
            with contextlib.suppress(RuntimeError):
                transport.abort()
        self._teardown_engine(engine)
        if sock is not None:
            sock.close()
        log.info("SNMP trap receiver on %s stopped", self.host)

    # -- pysnmp wiring ----------------------------------------------------------------------

    def _build_engine(self, family: int) -> tuple[Any, Any]:
        from pysnmp.carrier.asyncio.dgram import udp, udp6
        from pysnmp.entity import config, engine
        from pysnmp.entity.rfc3413 import ntfrcv
        from pysnmp.proto.api import v2c

        snmp_engine = engine.SnmpEngine(msgAndPduDsp=_counting_dispatcher(self._datagram))
        # SNMPv3 is not configured here: without its message processing model a v3 packet
        # is dropped silently instead of being answered with discovery REPORTs.
        snmp_engine.message_processing_subsystems.pop(3, None)
        (self._parse_errors,) = snmp_engine.get_mib_builder().import_symbols(
            "__SNMPv2-MIB", "snmpInASNParseErrs"
        )
        self._inform_tag = v2c.InformRequestPDU.tagSet
        if family == socket.AF_INET6:
            domain, protocol = udp6.DOMAIN_NAME, udp6.Udp6Transport()
        else:
            domain, protocol = udp.DOMAIN_NAME, udp.UdpTransport()
        config.add_transport(snmp_engine, domain, protocol)
        for number, community in enumerate(self._communities):
            config.add_v1_system(snmp_engine, f"opsconsole-trap-{number}", community)
        snmp_engine.observer.register_observer(self._security_failure, _SM_FAILURE)
        self._notification_receiver = ntfrcv.NotificationReceiver(snmp_engine, self._notification)
        return snmp_engine, protocol

    def _teardown_engine(self, snmp_engine: Any) -> None:
        try:
            if self._notification_receiver is not None:
                self._notification_receiver.close(snmp_engine)
            snmp_engine.observer.unregister_observer()
            snmp_engine.close_dispatcher()
        except Exception:
            log.warning("error while closing the SNMP trap receiver", exc_info=True)
        finally:
            self._notification_receiver = None

    def _parse_error_count(self) -> int:
        return int(self._parse_errors.syntax) if self._parse_errors is not None else 0

    def _datagram(self, process: Callable[[], object], address: object) -> None:
        """Runs pysnmp on one datagram and files it in exactly one counter."""
        self._outcome = None
        parse_errors = self._parse_error_count()
        try:
            process()
        except Exception:
            log.debug("undecodable SNMP datagram from %s", _host_of(address), exc_info=True)
            if self._outcome is None:
                self._outcome = "malformed"
        outcome = self._outcome
        if outcome is None:
            outcome = "malformed" if self._parse_error_count() > parse_errors else "ignored"
            if outcome == "malformed":
                log.debug("malformed SNMP datagram from %s", _host_of(address))
            else:
                log.debug("ignored a non-notification SNMP message from %s", _host_of(address))
        self._outcome = None
        self._counts["datagrams"] += 1
        self._counts[outcome] += 1

    def _security_failure(
        self, snmp_engine: Any, execpoint: str, variables: Mapping[str, Any], ctx: Any
    ) -> None:
        from pysnmp.proto import errind

        status = variables.get("statusInformation") or {}
        if isinstance(status.get("errorIndication"), errind.UnknownCommunityName):
            self._outcome = "dropped_bad_community"
            # the community it carried is someone's secret, possibly ours mistyped: not logged
            log.debug(
                "dropped an SNMP message with an unknown community from %s",
                _host_of(variables.get("transportAddress")),
            )

    def _notification(
        self,
        snmp_engine: Any,
        state_reference: Any,
        context_engine_id: Any,
        context_name: Any,
        var_binds: Any,
        cb_ctx: Any,
    ) -> None:
        try:
            request = snmp_engine.observer.get_execution_context(_REQUEST_CONTEXT)
            address = request["transportAddress"]
            pdu = request.get("pdu")
            message = build_trap_message(
                var_binds,
                sender=str(address[0]),
                sender_port=int(address[1]),
                is_inform=pdu is not None and pdu.tagSet == self._inform_tag,
            )
        except Exception:
            log.warning("could not decode an SNMP notification", exc_info=True)
            self._outcome = "malformed"
            return
        self._outcome = "received"
        try:
            self._on_trap(message)
        except Exception:
            self._callback_errors += 1
            log.exception("trap callback failed on %s trap from %s", message.kind, message.sender)


def _host_of(address: object) -> str:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return "?"


def _counting_dispatcher(on_datagram: Callable[[Callable[[], object], object], None]) -> Any:
    """A pysnmp message dispatcher that routes each incoming datagram through `on_datagram`
    (which must call the processing function it is given)."""
    from pysnmp.proto.rfc3412 import MsgAndPduDispatcher

    class _CountingDispatcher(MsgAndPduDispatcher):  # type: ignore[misc]
        def receive_message(
            self,
            snmp_engine: Any,
            transport_domain: Any,
            transport_address: Any,
            whole_msg: Any,
        ) -> bytes:
            def process() -> object:
                return super(_CountingDispatcher, self).receive_message(
                    snmp_engine, transport_domain, transport_address, whole_msg
                )

            on_datagram(process, transport_address)
            return b""

    return _CountingDispatcher()
