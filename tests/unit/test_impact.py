from __future__ import annotations

import pytest

from opsconsole.cmdb.impact import dependencies, dependents, impacted_services
from opsconsole.cmdb.service import add_ci, get_ci, relate
from opsconsole.store import Store
from opsconsole.store.models import CIClass, RelationType

EDGES = [
    ("shop", RelationType.DEPENDS_ON, "shop-web"),
    ("shop", RelationType.DEPENDS_ON, "payments"),
    ("payments", RelationType.DEPENDS_ON, "pay-db"),
    ("shop-web", RelationType.RUNS_ON, "web-01"),
    ("pay-db", RelationType.HOSTED_ON, "db-01"),
    ("web-01", RelationType.CONNECTED_TO, "access-sw"),
    ("db-01", RelationType.CONNECTED_TO, "access-sw"),
    ("access-sw", RelationType.CONNECTED_TO, "core-sw"),
    ("wiki", RelationType.DEPENDS_ON, "wiki-app"),
]
CLASSES = {
    "shop": (CIClass.SERVICE, "high"),
    "payments": (CIClass.SERVICE, "high"),
    "wiki": (CIClass.SERVICE, "low"),
    "shop-web": (CIClass.APPLICATION, None),
    "wiki-app": (CIClass.APPLICATION, None),
    "pay-db": (CIClass.DATABASE, None),
    "web-01": (CIClass.HOST, None),
    "db-01": (CIClass.HOST, None),
    "access-sw": (CIClass.NETWORK_DEVICE, None),
    "core-sw": (CIClass.NETWORK_DEVICE, None),
}


@pytest.fixture
def estate(store: Store) -> Store:
    with store.write("test") as s:
        cis = {
            name: add_ci(s, name, cls, criticality=crit) for name, (cls, crit) in CLASSES.items()
        }
        for source, rel, target in EDGES:
            relate(s, cis[source], rel, cis[target])
    return store


def names(paths: list) -> list[str]:  # type: ignore[type-arg]
    return [p.ci.name for p in paths]


def test_core_switch_hurts_both_services_through_any_path(estate: Store) -> None:
    with estate.read() as s:
        paths = impacted_services(s, get_ci(s, "core-sw"))
    assert names(paths) == ["payments", "shop"]
    by_name = {p.ci.name: p.path for p in paths}
    assert by_name["payments"] == ("core-sw", "access-sw", "db-01", "pay-db", "payments")
    # shortest path wins: via web-01 is 4 hops, via payments 5
    assert by_name["shop"] == ("core-sw", "access-sw", "web-01", "shop-web", "shop")


def test_unrelated_ci_hurts_nothing(estate: Store) -> None:
    with estate.read() as s:
        assert impacted_services(s, get_ci(s, "wiki-app"))[0].ci.name == "wiki"
        assert names(impacted_services(s, get_ci(s, "wiki-app"))) == ["wiki"]


def test_service_impacts_itself_and_services_that_need_it(estate: Store) -> None:
    with estate.read() as s:
        assert names(impacted_services(s, get_ci(s, "payments"))) == ["payments", "shop"]


def test_dependencies_of_a_service(estate: Store) -> None:
    with estate.read() as s:
        found = set(names(dependencies(s, get_ci(s, "shop"))))
    assert found == {"shop-web", "payments", "pay-db", "web-01", "db-01", "access-sw", "core-sw"}


def test_dependents(estate: Store) -> None:
    with estate.read() as s:
        assert set(names(dependents(s, get_ci(s, "db-01")))) == {"pay-db", "payments", "shop"}


def test_a_cycle_terminates(estate: Store) -> None:
    with estate.write("test") as s:
        # core-sw "needs" shop: nonsense data, but an import can contain it
        relate(s, get_ci(s, "core-sw"), RelationType.DEPENDS_ON, get_ci(s, "shop"))
        relate(s, get_ci(s, "wiki-app"), RelationType.DEPENDS_ON, get_ci(s, "wiki"))
    with estate.read() as s:
        assert names(impacted_services(s, get_ci(s, "core-sw"))) == ["payments", "shop"]
        assert names(impacted_services(s, get_ci(s, "wiki"))) == ["wiki"]
        everything = set(names(dependencies(s, get_ci(s, "shop"))))
    assert "shop" not in everything
    assert "core-sw" in everything


def test_list_filter_treats_wildcards_as_text(store: Store) -> None:
    from opsconsole.cmdb.service import list_cis

    with store.write("test") as s:
        add_ci(s, "web_01", CIClass.HOST)
        add_ci(s, "webX01", CIClass.HOST)
        add_ci(s, "100%-db", CIClass.DATABASE)
    with store.read() as s:
        assert [c.name for c in list_cis(s, text="web_")] == ["web_01"]
        assert [c.name for c in list_cis(s, text="%")] == ["100%-db"]
        assert [c.name for c in list_cis(s, text="WEB")] == ["webX01", "web_01"]  # byte order
        assert [c.name for c in list_cis(s, ci_class="host", after_name="webX01")] == ["web_01"]
