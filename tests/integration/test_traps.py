"""The trap receiver against the real net-snmp senders (snmptrap, snmpinform, snmpget).

Everything goes to 127.0.0.1 on an ephemeral port; waits are bounded polls, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from opsconsole.monitoring.traps import TrapMessage, TrapReceiver
from tests.peers import require_binary

COMMUNITY = "public"
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
COLD_START = "1.3.6.1.6.3.1.1.5.1"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
ENTERPRISE_TRAP = "1.3.6.1.4.1.8072.2.3.0.1"
ENTERPRISE_VAR = "1.3.6.1.4.1.8072.2.3.2.1"
WAIT_SECONDS = 5.0


@dataclass
class Harness:
    receiver: TrapReceiver
    messages: list[TrapMessage] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.receiver.bound_port

    async def send(self, tool: str, *args: str, timeout: float = 15.0) -> tuple[int, str]:
        """Run a net-snmp tool against the receiver; returns (exit code, stderr)."""
        require_binary(tool, "snmp")
        process = await asyncio.create_subprocess_exec(
            tool,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "MIBS": ""},  # no MIB loading: faster, no warnings
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
        assert process.returncode is not None
        return process.returncode, stderr.decode(errors="replace")

    async def trap(self, trap_oid: str, *varbinds: str, community: str = COMMUNITY) -> None:
        code, stderr = await self.send(
            "snmptrap", "-v2c", "-c", community, f"127.0.0.1:{self.port}", "", trap_oid, *varbinds
        )
        assert code == 0, stderr

    async def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while not condition():
            if loop.time() > deadline:
                pytest.fail(f"timed out waiting for {what}; stats {self.receiver.stats}")
            await asyncio.sleep(0.02)

    async def next_message(self, count: int) -> TrapMessage:
        """Wait until `count` messages have arrived; return the last."""
        await self.wait_for(lambda: len(self.messages) >= count, f"trap #{count}")
        return self.messages[count - 1]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    require_binary("snmptrap", "snmp")
    messages: list[TrapMessage] = []
    receiver = TrapReceiver("127.0.0.1", 0, [COMMUNITY, "second"], messages.append)
    await receiver.start()
    try:
        yield Harness(receiver, messages)
    finally:
        receiver.stop()


def assert_accounted(receiver: TrapReceiver) -> None:
    stats = receiver.stats
    assert stats.datagrams == (
        stats.received + stats.dropped_bad_community + stats.malformed + stats.ignored
    )


async def test_link_down_with_interface_varbinds(harness: Harness) -> None:
    await harness.trap(LINK_DOWN, f"{IF_INDEX}.2", "i", "2", f"{IF_DESCR}.2", "s", "eth0")
    message = await harness.next_message(1)
    assert message.kind == "linkDown"
    assert message.trap_oid == LINK_DOWN
    assert (message.if_index, message.if_name) == (2, "eth0")
    assert message.sender == "127.0.0.1"
    assert 0 < message.sender_port < 65536 and message.sender_port != harness.port
    assert isinstance(message.uptime, int)
    assert message.at.utcoffset() == timedelta(0)
    assert not message.is_inform
    assert (f"{IF_DESCR}.2", "eth0") in message.varbinds
    assert harness.receiver.stats.received == 1


async def test_cold_start(harness: Harness) -> None:
    await harness.trap(COLD_START)
    message = await harness.next_message(1)
    assert (message.kind, message.trap_oid) == ("coldStart", COLD_START)
    assert (message.if_index, message.if_name) == (None, None)
    assert [name for name, _ in message.varbinds] == [
        "1.3.6.1.2.1.1.3.0",
        "1.3.6.1.6.3.1.1.4.1.0",
    ]


async def test_enterprise_trap_with_escape_sequences(harness: Harness) -> None:
    await harness.trap(
        ENTERPRISE_TRAP,
        f"{ENTERPRISE_VAR}.1",
        "s",
        "a\x1b[2Jb",  # exec, no shell: the ESC byte goes out as is
        f"{ENTERPRISE_VAR}.2",
        "x",
        "1B5D303B6F776E65640720",  # OSC "set title" through -x hex
        f"{ENTERPRISE_VAR}.3",
        "x",
        "FFFE00",  # not UTF-8
        f"{ENTERPRISE_VAR}.4",
        "a",
        "127.0.0.7",
    )
    message = await harness.next_message(1)
    assert message.kind == "enterprise"
    assert message.trap_oid == ENTERPRISE_TRAP
    values = dict(message.varbinds)
    assert values[f"{ENTERPRISE_VAR}.1"] == "a\\x1b[2Jb"
    assert values[f"{ENTERPRISE_VAR}.2"] == "\\x1b]0;owned\\x07 "
    assert values[f"{ENTERPRISE_VAR}.3"] == "0xfffe00"
    assert values[f"{ENTERPRISE_VAR}.4"] == "127.0.0.7"
    assert not any("\x1b" in text or "\x07" in text for _, text in message.varbinds)


async def test_wrong_community_is_dropped_and_counted(harness: Harness) -> None:
    await harness.trap(COLD_START, community="not-the-community")
    await harness.trap(LINK_DOWN, f"{IF_INDEX}.1", "i", "1", community="second")
    message = await harness.next_message(1)
    assert message.kind == "linkDown"  # the trap with the wrong community never arrived
    await harness.wait_for(
        lambda: harness.receiver.stats.dropped_bad_community == 1, "the bad community count"
    )
    assert len(harness.messages) == 1
    stats = harness.receiver.stats
    assert (stats.received, stats.malformed) == (1, 0)
    assert_accounted(harness.receiver)


async def test_inform_is_acknowledged_and_delivered(harness: Harness) -> None:
    code, stderr = await harness.send(
        "snmpinform", "-v2c", "-c", COMMUNITY, "-t", "2", "-r", "1",
        f"127.0.0.1:{harness.port}", "", LINK_DOWN, f"{IF_INDEX}.7", "i", "7",
    )  # fmt: skip
    assert code == 0, f"inform not acknowledged: {stderr}"
    message = await harness.next_message(1)
    assert message.is_inform
    assert (message.kind, message.if_index) == ("linkDown", 7)


async def test_inform_with_wrong_community_is_not_acknowledged(harness: Harness) -> None:
    code, stderr = await harness.send(
        "snmpinform", "-v2c", "-c", "nope", "-t", "0.3", "-r", "0",
        f"127.0.0.1:{harness.port}", "", COLD_START,
    )  # fmt: skip
    assert code != 0 and "Timeout" in stderr
    assert harness.messages == []
    assert harness.receiver.stats.dropped_bad_community == 1


async def test_v1_trap_is_translated_without_leaking_the_community(harness: Harness) -> None:
    # generic trap 2 = linkDown; the agent address is loopback
    code, stderr = await harness.send(
        "snmptrap", "-v1", "-c", COMMUNITY, f"127.0.0.1:{harness.port}",
        "1.3.6.1.4.1.8072", "127.0.0.1", "2", "0", "", f"{IF_INDEX}.3", "i", "3",
    )  # fmt: skip
    assert code == 0, stderr
    message = await harness.next_message(1)
    assert (message.kind, message.if_index) == ("linkDown", 3)
    assert all(text != COMMUNITY for _, text in message.varbinds)


GARBAGE = [
    b"",
    b"garbage\x00\xff",  # makes pyasn1 raise TypeError out of pysnmp's receive_message
    b"\x30\x80",
    b"\x30\x03\x02\x01\x01",  # an SNMP version and nothing else
    b"\x30\x82\xff\xff" + b"\x00" * 16,  # length beyond the datagram
    random.Random(20261103).randbytes(512),
    bytes(range(256)),
]


async def test_garbage_is_counted_and_the_receiver_keeps_working(harness: Harness) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for payload in GARBAGE:
            sender.sendto(payload, ("127.0.0.1", harness.port))
    await harness.wait_for(
        lambda: harness.receiver.stats.malformed == len(GARBAGE), "all garbage counted"
    )
    await harness.trap(COLD_START)
    message = await harness.next_message(1)
    assert message.kind == "coldStart"
    stats = harness.receiver.stats
    assert (stats.received, stats.malformed, stats.ignored) == (1, len(GARBAGE), 0)
    assert_accounted(harness.receiver)


async def test_requests_to_the_trap_port_are_ignored_unanswered(harness: Harness) -> None:
    for version in (["-v2c", "-c", COMMUNITY], ["-v3", "-u", "someone", "-l", "noAuthNoPriv"]):
        code, _ = await harness.send(
            "snmpget", *version, "-t", "0.3", "-r", "0",
            f"127.0.0.1:{harness.port}", "1.3.6.1.2.1.1.3.0",
        )  # fmt: skip
        assert code != 0  # no answer at all, not even a v3 discovery REPORT
    await harness.wait_for(lambda: harness.receiver.stats.ignored == 2, "two ignored requests")
    assert harness.messages == []
    assert_accounted(harness.receiver)


async def test_a_failing_callback_does_not_stop_the_receiver() -> None:
    require_binary("snmptrap", "snmp")
    delivered: list[TrapMessage] = []

    def flaky(message: TrapMessage) -> None:
        delivered.append(message)
        if len(delivered) == 1:
            raise RuntimeError("consumer bug")

    receiver = TrapReceiver("127.0.0.1", 0, [COMMUNITY], flaky)
    await receiver.start()
    try:
        harness = Harness(receiver, delivered)
        await harness.trap(COLD_START)
        await harness.next_message(1)
        await harness.trap(LINK_DOWN)
        assert (await harness.next_message(2)).kind == "linkDown"
        assert (receiver.stats.received, receiver.stats.callback_errors) == (2, 1)
    finally:
        receiver.stop()


async def test_stop_frees_the_port_and_restart_works() -> None:
    receiver = TrapReceiver("127.0.0.1", 0, [COMMUNITY], lambda message: None)
    await receiver.start()
    port = receiver.bound_port
    assert receiver.running and port > 0

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        with pytest.raises(OSError):
            taken.bind(("127.0.0.1", port))
        busy = TrapReceiver("127.0.0.1", port, [COMMUNITY], lambda message: None)
        with pytest.raises(OSError):
            await busy.start()
        assert not busy.running

    receiver.stop()
    assert not receiver.running
    with pytest.raises(RuntimeError):
        _ = receiver.bound_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rebound:
        rebound.bind(("127.0.0.1", port))  # free immediately, not on a later loop turn
    receiver.stop()

    again = TrapReceiver("127.0.0.1", port, [COMMUNITY], lambda message: None)
    await again.start()
    try:
        assert again.bound_port == port
    finally:
        again.stop()
