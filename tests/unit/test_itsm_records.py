"""Problems, service requests and knowledge articles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsconsole.itsm import incidents as inc
from opsconsole.itsm import knowledge as kb
from opsconsole.itsm import problems as prb
from opsconsole.itsm import requests as req
from opsconsole.itsm.journal import ItsmError, TransitionRefused
from opsconsole.itsm.problems import ProblemState as P
from opsconsole.itsm.query import ListQuery
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.store import Store, VersionConflict
from tests.itsm_support import T0, ci_id, frozen, load_estate


@pytest.fixture
def estate(store: Store) -> Iterator[Store]:
    with frozen():
        load_estate(store)
        yield store


# --- problems --------------------------------------------------------------------------------


def test_problem_flow_known_error_and_linked_incidents(estate: Store) -> None:
    with estate.write("ana") as s:
        first = inc.create_incident(s, "ana", short_description="db-01 slow").number
        second = inc.create_incident(s, "ana", short_description="db-01 slow again").number
        number = prb.create_problem(
            s,
            "ana",
            short_description="db-01 stalls every night",
            ci_id=ci_id(s, "db-01"),
            incident_numbers=[first],
        ).number
        prb.link_incident(s, "ana", number, second)
    assert number == "PRB0001001"

    def go(to: P, **kw: str) -> None:
        with estate.write("ana") as s:
            prb.transition_problem(s, "ana", number, None, to, **kw)

    with pytest.raises(TransitionRefused, match="cannot go to Root Cause Analysis"):
        go(P.ROOT_CAUSE_ANALYSIS)
    go(P.ASSESS)
    go(P.ROOT_CAUSE_ANALYSIS)
    with pytest.raises(TransitionRefused, match="needs the root cause"):
        go(P.FIX_IN_PROGRESS)
    with estate.write("ana") as s:
        problem = prb.mark_known_error(
            s,
            "ana",
            number,
            None,
            "restart the backup agent",
            root_cause="backup agent leaks locks",
        )
        assert problem.known_error
        assert [p.number for p in prb.known_errors_for_ci(s, ci_id(s, "db-01"))] == [number]
    go(P.FIX_IN_PROGRESS)
    with pytest.raises(TransitionRefused, match="fix notes"):
        go(P.RESOLVED)
    go(P.RESOLVED, fix_notes="agent upgraded to 7.2")
    go(P.CLOSED)
    with estate.read() as s:
        problem = prb.get_problem(s, number)
        assert [i.number for i in prb.linked_incidents(s, problem)] == [first, second]
        assert problem.resolved_at == T0 and problem.closed_at == T0
        states = [e.new_value for e in prb.history(s, problem) if e.field == "state"]
        assert states == [
            "new",
            "assess",
            "root_cause_analysis",
            "fix_in_progress",
            "resolved",
            "closed",
        ]
        incident = inc.get_incident(s, second)
        assert incident.problem_id == problem.id
        assert [e.field for e in inc.history(s, incident)][-1] == "problem_id"


def test_problem_closing_from_assess_needs_a_note_and_lists(estate: Store) -> None:
    with estate.write("ana") as s:
        number = prb.create_problem(s, "ana", short_description="dup", assignee="ana").number
        prb.transition_problem(s, "ana", number, 1, "assess")
    with pytest.raises(TransitionRefused, match="note saying why"), estate.write("ana") as s:
        prb.transition_problem(s, "ana", number, None, "closed")
    with estate.read() as s:
        assert [p.number for p in prb.list_problems(s, ListQuery(view="mine", me="ana")).rows] == [
            number
        ]
    with pytest.raises(VersionConflict), estate.write("bob") as s:
        prb.update_problem(s, "bob", number, 1, assignee="bob")


# --- service requests ------------------------------------------------------------------------


def test_request_from_the_catalog_with_tasks(estate: Store) -> None:
    with estate.write("ana") as s:
        request = req.submit_request(
            s, "ana", "disk-space", {"host": "db-01", "mount": "/var", "gigabytes": "50"}
        )
        number = request.number
        assert request.values == {"host": "db-01", "mount": "/var", "gigabytes": 50}
        assert request.short_description == "More disk space: db-01"
        assert request.due_at == T0 + ItsmSettings().catalog["disk-space"].fulfillment
        tasks = req.tasks_of(s, request)
        assert [(t.number, t.assignment_group) for t in tasks] == [
            ("TASK0001001", "storage-team"),
            ("TASK0001002", "app-team"),
        ]
    with estate.write("sam") as s:
        req.update_task(s, "sam", "TASK0001001", 1, state="in_progress", assignee="sam")
        assert req.get_request(s, number).state == "in_progress"
        req.update_task(s, "sam", "TASK0001001", None, state="done")
        with pytest.raises(TransitionRefused, match="every task must be closed"):
            req.transition_request(s, "sam", number, None, "fulfilled")
        req.update_task(s, "sam", "TASK0001002", None, state="skipped", notes="online already")
        request = req.get_request(s, number)
        assert request.state == "fulfilled"
        assert request.fulfilled_at == T0
        req.transition_request(s, "sam", number, None, "closed")
    with estate.read() as s:
        request = req.get_request(s, number)
        fields = [e.field for e in req.history(s, request) if e.kind == "field"]
        assert "TASK0001001.state" in fields and "TASK0001002.notes" in fields
        assert req.list_requests(s, ListQuery(view="open")).rows == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"host": "db-01", "mount": "/var"}, "gigabytes is required"),
        ({"host": "db-01", "mount": "/var", "gigabytes": "lots"}, "not a number"),
        ({"host": "db-01", "mount": "/", "gigabytes": 1, "colour": "red"}, "no field 'colour'"),
    ],
)
def test_catalog_values_are_validated(
    estate: Store, values: dict[str, object], message: str
) -> None:
    with pytest.raises(ItsmError, match=message), estate.write("ana") as s:
        req.submit_request(s, "ana", "disk-space", values)


def test_catalog_choices_flags_and_cancel(estate: Store) -> None:
    with estate.write("ana") as s:
        with pytest.raises(ItsmError, match="not one of read-only, sudo"):
            req.submit_request(
                s, "ana", "server-access", {"host": "web-01", "person": "zoe", "access": "root"}
            )
        with pytest.raises(ItsmError, match="no catalog item"):
            req.submit_request(s, "ana", "pony", {})
        request = req.submit_request(
            s, "ana", "monitoring-onboarding", {"host": "web-09", "snmp": "yes"}
        )
        assert request.values == {"host": "web-09", "snmp": True}
        with pytest.raises(TransitionRefused, match="say why"):
            req.transition_request(s, "ana", request.number, None, "canceled")
        req.transition_request(s, "ana", request.number, None, "canceled", note="host retired")
        assert [t.state for t in req.tasks_of(s, request)] == ["closed_skipped"]


# --- knowledge -------------------------------------------------------------------------------


def test_packaged_articles_parse_and_cover_the_estate_checks() -> None:
    articles = kb.read_directory(kb.PACKAGED_KB)
    assert len(articles) >= 5
    covered = {c for a in articles for c in a.checks}
    for check in ("host.reachability", "fs.percent", "cpu.percent", "snmp.link", "mem.percent"):
        assert any(kb._check_matches([c], check) for c in covered), check


def test_sync_is_idempotent_and_updates_in_place(estate: Store, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: Alpha\nchecks: [x.*]\n---\nbody one\n")
    with estate.write("kb") as s:
        assert str(kb.sync_articles(s, "kb", [tmp_path])) == "1 created, 0 updated, 0 unchanged"
        assert str(kb.sync_articles(s, "kb", [tmp_path])) == "0 created, 0 updated, 1 unchanged"
    (tmp_path / "a.md").write_text("---\ntitle: Alpha\nchecks: [x.*]\n---\nbody two\n")
    with estate.write("kb") as s:
        assert kb.sync_articles(s, "kb", [tmp_path]).updated == 1
        article = kb.get_article(s, "a")
        assert (article.number, article.body) == ("KB0001001", "body two\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "no front matter"),
        ("---\ntitle: [unclosed\n---\n", "not YAML"),
        ("---\nchecks: [a]\n---\n", "needs a title"),
        ("---\ntitle: T\nci_classes: [toaster]\n---\n", "unknown CI class"),
        ("---\ntitle: T\nauthor: me\n---\n", "unknown front matter key"),
    ],
)
def test_bad_article_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.md").write_text(text)
    with pytest.raises(kb.KnowledgeError, match=message):
        kb.read_directory(tmp_path)


def test_search_and_articles_for_an_alert(estate: Store) -> None:
    with estate.write("kb") as s:
        kb.sync_articles(s, "kb")
        written = kb.create_article(
            s,
            "ana",
            title="Rotating nginx logs",
            body="logrotate ...",
            ci_classes=["host"],
            checks=["fs.percent"],
        )
        draft = kb.create_article(s, "ana", title="Draft on disks", body="disk", state="draft")
    with estate.read() as s:
        hits = kb.search_articles(s, "disk full")
        assert hits[0].article.title == "Filesystem filling up (fs.percent)"
        assert all(h.article.number != draft.number for h in hits)
        assert [h.article.title for h in kb.search_articles(s, "inode")] == [
            "Filesystem filling up (fs.percent)"
        ]
        assert kb.search_articles(s, "zebra") == []
        for_alert = kb.articles_for(s, ci_class="host", check="fs.percent:/var")
        assert {a.title for a in for_alert} == {
            "Filesystem filling up (fs.percent)",
            written.title,
        }
        assert [
            a.slug for a in kb.articles_for(s, ci_class="network_device", check="snmp.link")
        ] == ["link-down"]
        assert [a.slug for a in kb.articles_for(s, check="load.5")] == ["high-cpu-load"]
    with estate.write("ana") as s:
        kb.update_article(s, "ana", written.number, 1, state="retired")
        assert all(a.number != written.number for a in kb.articles_for(s, check="fs.percent"))
