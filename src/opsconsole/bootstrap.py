"""Turning settings into a ready store: migrate, load the estate on first run, add this host."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from opsconsole.cmdb import io as cmdb_io
from opsconsole.cmdb.service import find_ci
from opsconsole.config import Settings
from opsconsole.monitoring.collectors import local_host_name
from opsconsole.store import open_store
from opsconsole.store.engine import Store
from opsconsole.store.models import CI, CIClass, Collector

log = logging.getLogger(__name__)
SAMPLE_ESTATE = Path(__file__).with_name("data") / "estate.yaml"


@dataclass(frozen=True)
class Prepared:
    store: Store
    local_host: str | None
    first_run: bool


def prepare(settings: Settings, db_url: str | None = None) -> Prepared:
    """Open (and migrate) the store; on an empty CMDB load the estate; make sure this host is a CI.

    Raises cmdb_io.CMDBImportError if the configured estate file is bad, KnowledgeError if a
    knowledge article is: nothing is written then.
    """
    store = open_store(settings.database_url(db_url))
    first_run = False
    with store.write(settings.actor) as session:
        if session.query(CI.id).first() is None:
            first_run = True
            estate = settings.estate.file or (
                SAMPLE_ESTATE if settings.estate.load_sample_on_first_run else None
            )
            if estate is not None:
                result = cmdb_io.import_file(session, estate, set(settings.credentials))
                log.info("loaded %s: %s", estate, result)
    from opsconsole.itsm import knowledge

    with store.write(settings.actor) as session:
        # Articles in data/kb (and configured directories) follow their files; a bad file
        # stops start-up with its name and problem, before anything is written.
        knowledge.sync_articles(session, settings.actor, knowledge.kb_directories(settings.itsm))
    local = None
    if settings.monitoring.local_host:
        local = local_host_name()
        with store.write(settings.actor) as session:
            ensure_local_host(session, local)
    return Prepared(store, local, first_run)


def ensure_local_host(session: Session, name: str) -> CI:
    ci = find_ci(session, name)
    if ci is None:
        ci = CI(
            name=name,
            ci_class=CIClass.HOST.value,
            address="127.0.0.1",
            environment="production",
            description="The machine this console runs on (added automatically)",
            monitored=True,
            collector=Collector.LOCAL.value,
        )
        session.add(ci)
    elif not ci.monitored or ci.collector != Collector.LOCAL.value:
        ci.monitored = True
        ci.collector = Collector.LOCAL.value
    return ci
