"""Knowledge articles: markdown, linked to CI classes and checks, searchable.

Articles come from markdown files (data/kb, and directories named in config) and from the
console. A file starts with YAML front matter:

    ---
    title: Filesystem full
    ci_classes: [host, database]
    checks: [fs.percent]          # globs: snmp.* matches snmp.link and snmp.restart
    keywords: [disk, df, inode]
    ---
    # Filesystem full
    ...

`sync_articles` loads files into the store, keyed by file name, so a re-sync updates the same
article (same number) and never duplicates it. Search ranks title, keyword and body matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.itsm import journal as jn
from opsconsole.itsm.journal import ItsmError, NotFound
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.store.itsm_models import KnowledgeArticle
from opsconsole.store.models import CIClass

RECORD = "article"
PACKAGED_KB = Path(__file__).resolve().parents[1] / "data" / "kb"
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.DOTALL)
_WORD = re.compile(r"[\w.*-]+")


class KnowledgeError(ItsmError):
    pass


@dataclass(frozen=True)
class ArticleFile:
    slug: str
    title: str
    body: str
    ci_classes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    source: str = ""


def _strings(value: Any, name: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise KnowledgeError(f"{where}: {name} must be a list of strings")


def parse_article(text: str, slug: str, source: str = "") -> ArticleFile:
    where = source or slug
    match = _FRONT.match(text)
    if match is None:
        raise KnowledgeError(f"{where}: no front matter (a --- block with a title)")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{where}: front matter is not YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise KnowledgeError(f"{where}: front matter must be a mapping")
    unknown = set(meta) - {"title", "ci_classes", "checks", "keywords"}
    if unknown:
        raise KnowledgeError(f"{where}: unknown front matter key {sorted(unknown)[0]!r}")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise KnowledgeError(f"{where}: front matter needs a title")
    classes = _strings(meta.get("ci_classes"), "ci_classes", where)
    known = {c.value for c in CIClass}
    for ci_class in classes:
        if ci_class not in known:
            raise KnowledgeError(f"{where}: unknown CI class {ci_class!r}")
    return ArticleFile(
        slug=slug,
        title=title.strip(),
        body=match.group(2).strip() + "\n",
        ci_classes=classes,
        checks=_strings(meta.get("checks"), "checks", where),
        keywords=_strings(meta.get("keywords"), "keywords", where),
        source=source,
    )


def read_directory(directory: Path) -> list[ArticleFile]:
    articles = []
    for path in sorted(directory.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KnowledgeError(f"{path}: cannot read: {exc}") from None
        articles.append(parse_article(text, path.stem, str(path)))
    return articles


def kb_directories(settings: ItsmSettings | None = None) -> list[Path]:
    settings = settings if settings is not None else ItsmSettings()
    dirs = [PACKAGED_KB] if settings.knowledge.load_packaged else []
    return dirs + [Path(d).expanduser() for d in settings.knowledge.directories]


@dataclass(frozen=True)
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def sync_articles(
    session: Session, actor: str, directories: Iterable[Path] | None = None
) -> SyncResult:
    """Load article files into the store (all or nothing: a bad file raises before any write).

    Idempotent: files are matched to articles by file name; only real changes are written."""
    files: dict[str, ArticleFile] = {}
    for directory in kb_directories() if directories is None else directories:
        if not directory.is_dir():
            raise KnowledgeError(f"{directory}: no such knowledge directory")
        for parsed in read_directory(directory):
            files[parsed.slug] = parsed  # a later directory overrides an earlier one
    created = updated = unchanged = 0
    existing = {
        a.slug: a
        for a in session.scalars(
            select(KnowledgeArticle).where(KnowledgeArticle.slug.in_(list(files)))
        )
    }
    for slug, item in sorted(files.items()):
        fields = {
            "title": item.title,
            "body": item.body,
            "ci_classes": item.ci_classes,
            "checks": item.checks,
            "keywords": item.keywords,
            "source": item.source,
        }
        found = existing.get(slug)
        if found is None:
            article = KnowledgeArticle(
                number=jn.next_number(session, RECORD),
                slug=slug,
                state="published",
                author=actor,
                **fields,
            )
            session.add(article)
            session.flush()
            jn.journal(
                session, actor, RECORD, article.id, "system", text=f"loaded from {item.source}"
            )
            created += 1
        elif jn.set_fields(session, actor, RECORD, found, fields):
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return SyncResult(created, updated, unchanged)


def _slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:100] or "article"


def create_article(
    session: Session,
    actor: str,
    *,
    title: str,
    body: str,
    ci_classes: Sequence[str] = (),
    checks: Sequence[str] = (),
    keywords: Sequence[str] = (),
    state: str = "published",
) -> KnowledgeArticle:
    """An article written in the console."""
    if not title.strip():
        raise KnowledgeError("an article needs a title")
    if state not in ("draft", "published", "retired"):
        raise KnowledgeError(f"unknown article state {state!r} (draft, published, retired)")
    known = {c.value for c in CIClass}
    for ci_class in ci_classes:
        if ci_class not in known:
            raise KnowledgeError(f"unknown CI class {ci_class!r}")
    base = _slugify(title)
    slug, n = base, 1
    while session.scalar(select(KnowledgeArticle.id).where(KnowledgeArticle.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    article = KnowledgeArticle(
        number=jn.next_number(session, RECORD),
        slug=slug,
        title=title.strip(),
        body=body,
        ci_classes=list(ci_classes),
        checks=list(checks),
        keywords=list(keywords),
        state=state,
        source="console",
        author=actor,
        created_at=clock.now(),
    )
    session.add(article)
    session.flush()
    jn.journal(session, actor, RECORD, article.id, "system", text="article written")
    return article


def update_article(
    session: Session, actor: str, number: str, expected_version: int | None, **changes: Any
) -> KnowledgeArticle:
    allowed = {"title", "body", "ci_classes", "checks", "keywords", "state"}
    unknown = set(changes) - allowed
    if unknown:
        raise KnowledgeError(f"not editable: {', '.join(sorted(unknown))}")
    if changes.get("state", "published") not in ("draft", "published", "retired"):
        raise KnowledgeError(f"unknown article state {changes['state']!r}")
    article = session.scalar(
        select(KnowledgeArticle)
        .where(KnowledgeArticle.number == number.strip().upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if article is None:
        raise NotFound(f"no article {number.strip().upper()}")
    jn.check_version("article", article.number, article, expected_version)
    jn.set_fields(session, actor, RECORD, article, changes)
    session.flush()
    return article


def get_article(session: Session, number_or_slug: str) -> KnowledgeArticle:
    key = number_or_slug.strip()
    article = session.scalar(
        select(KnowledgeArticle).where(
            (KnowledgeArticle.number == key.upper()) | (KnowledgeArticle.slug == key)
        )
    )
    if article is None:
        raise NotFound(f"no article {key}")
    return article


# --- finding ---------------------------------------------------------------------------------


def _check_matches(patterns: Sequence[str], check: str) -> bool:
    base = check.partition(":")[0]  # fs.percent:/var -> fs.percent
    return any(fnmatchcase(check, p) or fnmatchcase(base, p) for p in patterns)


@dataclass(frozen=True)
class Hit:
    article: KnowledgeArticle
    score: float
    snippet: str


def _snippet(body: str, words: Sequence[str], width: int = 160) -> str:
    lower = body.lower()
    positions = [lower.find(w) for w in words if lower.find(w) >= 0]
    start = max(0, min(positions) - 40) if positions else 0
    text = " ".join(body[start : start + width].split())
    return ("..." if start else "") + text


def search_articles(
    session: Session,
    text: str = "",
    *,
    ci_class: str | None = None,
    check: str | None = None,
    include_drafts: bool = False,
    limit: int = 20,
) -> list[Hit]:
    """Published articles matching every word of `text` (title, keywords, checks or body),
    optionally only those linked to a CI class or a check, best first."""
    words = [w.lower() for w in _WORD.findall(text)]
    states = ["published", "draft"] if include_drafts else ["published"]
    hits = []
    for article in session.scalars(
        select(KnowledgeArticle).where(KnowledgeArticle.state.in_(states))
    ):
        if ci_class and article.ci_classes and ci_class not in article.ci_classes:
            continue
        if check and not _check_matches(article.checks, check):
            continue
        title = article.title.lower()
        keys = " ".join(article.keywords + article.checks).lower()
        body = article.body.lower()
        score = 0.0
        for word in words:
            found = 3.0 * (word in title) + 2.0 * (word in keys) + min(body.count(word), 5) * 0.2
            if not found:
                break
            score += found
        else:
            if check:
                score += 1.0
            hits.append(Hit(article, score, _snippet(article.body, words)))
    hits.sort(key=lambda h: (-h.score, h.article.title))
    return hits[:limit]


def articles_for(
    session: Session, *, ci_class: str | None = None, check: str | None = None, limit: int = 5
) -> list[KnowledgeArticle]:
    """Articles to show beside an alert or an incident: linked to its check, and to its CI's
    class when the article names classes."""
    return [
        h.article for h in search_articles(session, ci_class=ci_class, check=check, limit=limit)
    ]


def articles_for_check(session: Session, check: str) -> list[KnowledgeArticle]:
    """Articles linked to a check (fs.percent:/var matches fs.percent): the alert views'."""
    return articles_for(session, check=check)
