from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from opsconsole.cmdb import io as cmdb_io
from opsconsole.cmdb.io import CMDBImportError
from opsconsole.cmdb.service import get_ci
from opsconsole.store import CI, Store
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.models import Relationship

ESTATE = Path(__file__).parents[2] / "data" / "estate.yaml"


def errors_of(store: Store, text: str, fmt: cmdb_io.Format = "yaml") -> list[str]:
    with pytest.raises(CMDBImportError) as caught, store.write("t") as s:
        cmdb_io.import_text(s, text, fmt, f"in.{fmt}", {"lab"})
    return [str(e) for e in caught.value.errors]


def snapshot(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[str, str, str]]]:
    """Everything an import can set, by name, so two stores can be compared."""
    with store.read() as s:
        cis = sorted(
            (c.name, c.ci_class, c.address, c.environment, c.owner, c.support_group,
             c.criticality, c.description, c.monitored, c.collector, c.credential_profile,
             c.snmp_port, c.poll_interval, tuple(sorted(c.attributes.items())))
            for c in s.scalars(select(CI))
        )  # fmt: skip
        names = {c.id: c.name for c in s.scalars(select(CI))}
        edges = sorted(
            (names[r.source_id], r.rel_type, names[r.target_id])
            for r in s.scalars(select(Relationship))
        )
    return cis, edges


def test_sample_estate_loads(store: Store) -> None:
    with store.write("t") as s:
        result = cmdb_io.import_file(s, ESTATE)
    assert result.created >= 25
    with store.read() as s:
        classes = {c.ci_class for c in s.scalars(select(CI))}
        addresses = [c.address for c in s.scalars(select(CI)) if c.address]
        assert not any(c.monitored for c in s.scalars(select(CI)))
    assert classes == {"service", "application", "host", "network_device", "database", "storage"}
    assert addresses and all(a.startswith("127.") for a in addresses)


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_export_then_import_is_a_round_trip(store: Store, tmp_path: Path, fmt: str) -> None:
    with store.write("t") as s:
        cmdb_io.import_file(s, ESTATE)
        get_ci(s, "web-01").attributes = {"note": "true", "rack_unit": 12, "ok": True, "x": None}
    before = snapshot(store)
    with store.read() as s:
        text = cmdb_io.export_text(s, fmt)  # type: ignore[arg-type]
    fresh = Store(f"sqlite+pysqlite:///{tmp_path / 'copy.db'}")
    from opsconsole.store.migrate import upgrade_to_head

    upgrade_to_head(fresh.engine)
    with fresh.write("t") as s:
        cmdb_io.import_text(s, text, fmt, "export", None)  # type: ignore[arg-type]
    assert snapshot(fresh) == before
    # and importing the export into the original changes nothing
    with store.read() as s:
        position = latest_change_id(s)
    with store.write("t") as s:
        result = cmdb_io.import_text(s, text, fmt, "export", None)  # type: ignore[arg-type]
    assert result.created == result.updated == 0
    with store.read() as s:
        assert latest_change_id(s) == position
    fresh.dispose()


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(store: Store) -> None:
    text = """cis:
  - name: good-host
    class: host
  - name: bad-class
    class: toaster
  - name: svc
    class: service
    criticality: extreme
  - name: web
    class: host
    address: not an address!
    depends_on: [ghost]
  - name: good-host
    class: host
  - name: h2
    class: host
    criticality: high
    colour: blue
"""
    errors = errors_of(store, text)
    assert errors[0].startswith("in.yaml:5: class: Input should be")
    assert any(e.startswith("in.yaml:8: criticality:") for e in errors)
    assert any(e.startswith("in.yaml:11: address:") for e in errors)
    assert any(e.startswith("in.yaml:18: colour: unknown field") for e in errors)
    with store.read() as s:
        assert s.scalar(select(CI).where(CI.name == "good-host")) is None


def test_reference_errors_name_their_lines(store: Store) -> None:
    text = """cis:
  - name: a
    class: host
    depends_on: [ghost]
  - name: b
    class: host
    runs_on: [b]
  - name: a
    class: host
  - name: h
    class: host
    criticality: high
  - name: m
    class: host
    monitored: true
    collector: snmp
    credential_profile: nope
"""
    assert errors_of(store, text) == [
        "in.yaml:4: depends_on: no CI named 'ghost'",
        "in.yaml:7: runs_on: a CI cannot runs on itself",
        "in.yaml:8: name: duplicate CI 'a' (first at line 2)",
        "in.yaml:12: criticality: only services have a criticality",
        "in.yaml:13: address: SNMP monitoring needs an address",
        "in.yaml:17: credential_profile: no profile 'nope' in the config",
    ]


def test_yaml_syntax_and_shape_errors(store: Store) -> None:
    assert errors_of(store, "cis:\n  - name: [x\n")[0].startswith("in.yaml:3: YAML syntax error")
    assert errors_of(store, "hosts: []\n") == ["in.yaml:1: expected a mapping with a 'cis' list"]
    assert errors_of(store, "cis: []\nextra: 1\n") == ["in.yaml:2: extra: unknown top-level key"]
    assert errors_of(store, "cis:\n  - just a string\n") == ["in.yaml:2: each CI must be a mapping"]


def test_csv_errors_carry_the_csv_line(store: Store) -> None:
    text = (
        "name,class,address,depends_on,monitored\n"
        "web-01,host,127.0.0.1,,no\n"
        "web-02,host,999.1.1.1,,\n"
        "svc,service,,web-01;ghost,\n"
        "x,host,,,maybe\n"
    )
    errors = errors_of(store, text, "csv")
    assert errors[0].startswith("in.csv:3: address:")
    assert "in.csv:4: depends_on: no CI named 'ghost'" in errors
    assert any(e.startswith("in.csv:5: monitored:") for e in errors)
    assert errors_of(store, "name,klass\nx,host\n", "csv") == [
        "in.csv:1: the header needs at least the columns name and class"
    ]
    assert errors_of(store, "name,class,colour\nx,host,red\n", "csv") == [
        "in.csv:1: unknown column 'colour'"
    ]


def test_csv_reference_errors(store: Store) -> None:
    text = "name,class,depends_on\nsvc,service,web-01;ghost\nweb-01,host,\n"
    assert errors_of(store, text, "csv") == ["in.csv:2: depends_on: no CI named 'ghost'"]


def test_reimport_updates_and_replaces_edges_of_the_listed_types(store: Store) -> None:
    with store.write("t") as s:
        cmdb_io.import_text(
            s,
            "cis:\n- {name: a, class: host, owner: x, connected_to: [sw1]}\n"
            "- {name: sw1, class: network_device}\n- {name: sw2, class: network_device}\n",
            "yaml", "one",
        )  # fmt: skip
    with store.write("t") as s:
        result = cmdb_io.import_text(
            s, "cis:\n- {name: a, class: host, connected_to: [sw2]}\n", "yaml", "two"
        )
    assert (result.created, result.updated) == (0, 0)  # owner untouched: absent in the file
    with store.read() as s:
        a = get_ci(s, "a")
        assert a.owner == "x"
        targets = [r.target.name for r in a.outgoing]
    assert targets == ["sw2"]


names = st.text(alphabet="abcdefghijklmnop-0123456789", min_size=1, max_size=12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    attrs=st.dictionaries(
        st.text(alphabet="abcxyz_", min_size=1, max_size=6),
        st.one_of(st.text(max_size=12), st.integers(-1000, 1000), st.booleans(), st.none()),
        max_size=4,
    ),
    description=st.one_of(st.none(), st.text(min_size=1, max_size=40).filter(str.strip)),
)
def test_csv_round_trip_keeps_any_attribute_and_text(
    sqlite_store: Store, attrs: dict[str, object], description: str | None
) -> None:
    with sqlite_store.write("t") as s:
        ci = s.scalar(select(CI).where(CI.name == "h")) or CI(name="h", ci_class="host")
        ci.attributes = attrs
        ci.description = description
        s.add(ci)
    with sqlite_store.read() as s:
        text = cmdb_io.export_text(s, "csv")
    rows = cmdb_io.parse_text(text, "csv", "x.csv")
    record = rows[0].record
    assert record.attributes == attrs
    assert (record.description or None) == (description.strip() if description else None)
