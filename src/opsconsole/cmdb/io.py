"""CMDB import and export, YAML and CSV, one row per CI with its outgoing relationships.

Imports are all-or-nothing: every row is validated first and every problem is reported with its
line; only a clean file is written, inside the caller's transaction. Exports write exactly what
an import reads back, so export -> import is a round trip.

A row: name, class, address, environment, owner, support_group, criticality (services only),
description, monitored, collector, credential_profile, snmp_port, poll_interval, attributes,
and one list of target names per relationship type (depends_on, runs_on, connected_to,
hosted_on). In CSV, lists are ';'-separated and each attribute is a column `attr.KEY` holding
a YAML scalar. Fields a YAML row leaves out are left as they are on an existing CI.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole.store.models import (
    CI,
    CIClass,
    Collector,
    Criticality,
    Environment,
    Relationship,
    RelationType,
)
from opsconsole.yamltext import YamlSyntaxError, line_of, load_with_nodes

Format = Literal["yaml", "csv"]
REL_FIELDS = tuple(rel.value for rel in RelationType)
SCALAR_FIELDS = (
    "name", "class", "address", "environment", "owner", "support_group", "criticality",
    "description", "monitored", "collector", "credential_profile", "snmp_port", "poll_interval",
)  # fmt: skip
CSV_ATTR_PREFIX = "attr."
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")
_DOTTED_DIGITS = re.compile(r"^[0-9.]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class RowError:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class CMDBImportError(Exception):
    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        noun = "error" if len(self.errors) == 1 else "errors"
        super().__init__(
            f"{len(self.errors)} {noun}, nothing imported:\n" + "\n".join(map(str, self.errors))
        )


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    relationships: int = 0

    def __str__(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.relationships} relationships"
        )


class CIRecord(BaseModel):
    """One validated row. Which fields were present matters (`model_fields_set`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=200)
    ci_class: CIClass = Field(alias="class")
    address: str | None = None
    environment: Environment = Environment.PRODUCTION
    owner: str | None = Field(default=None, max_length=200)
    support_group: str | None = Field(default=None, max_length=200)
    criticality: Criticality | None = None
    description: str | None = None
    monitored: bool = False
    collector: Collector | None = None
    credential_profile: str | None = Field(default=None, max_length=100)
    snmp_port: int | None = Field(default=None, ge=1, le=65535)
    poll_interval: int | None = Field(default=None, ge=5, le=86400)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    runs_on: list[str] = Field(default_factory=list)
    connected_to: list[str] = Field(default_factory=list)
    hosted_on: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            # all-numeric labels are a mistyped IPv4 address, not a host name
            if _HOSTNAME.match(value) and not _DOTTED_DIGITS.match(value):
                return value
        raise ValueError(f"{value!r} is neither an IP address nor a host name")

    def relations(self) -> dict[RelationType, list[str]]:
        return {RelationType(f): getattr(self, f) for f in REL_FIELDS if f in self.model_fields_set}


@dataclass
class _Row:
    line: int
    record: CIRecord
    field_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.field_lines.get(key, self.line)


# --- parsing ---------------------------------------------------------------------------------


@dataclass
class _Parsed:
    rows: list[_Row]
    errors: list[RowError]
    # names of rows that failed validation: references to them are not reported twice
    unparsed_names: set[str] = field(default_factory=set)


def _parse(text: str, fmt: Format, source: str) -> _Parsed:
    return (_parse_yaml if fmt == "yaml" else _parse_csv)(text, source)


def parse_text(text: str, fmt: Format, source: str) -> list[_Row]:
    parsed = _parse(text, fmt, source)
    if parsed.errors:
        raise CMDBImportError(parsed.errors)
    return parsed.rows


def format_of(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".csv":
        return "csv"
    raise CMDBImportError([RowError(str(path), 1, "unknown format: use .yaml, .yml or .csv")])


def _validation_errors(exc: ValidationError, source: str, lines: Any) -> list[RowError]:
    out = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else ""
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        message = message.removeprefix("Value error, ")
        out.append(RowError(source, lines(err["loc"]), f"{key}: {message}" if key else message))
    return out


def _parse_yaml(text: str, source: str) -> _Parsed:
    try:
        data, root = load_with_nodes(text)
    except YamlSyntaxError as exc:
        return _Parsed([], [RowError(source, exc.line, f"YAML syntax error: {exc.problem}")])
    if not isinstance(data, dict) or not isinstance(data.get("cis"), list):
        return _Parsed([], [RowError(source, 1, "expected a mapping with a 'cis' list")])
    unknown = set(data) - {"cis"}
    if unknown:
        key = sorted(unknown)[0]
        return _Parsed(
            [], [RowError(source, line_of(root, (key,)), f"{key}: unknown top-level key")]
        )
    parsed = _Parsed([], [])
    for index, item in enumerate(data["cis"]):
        loc = ("cis", index)
        line = line_of(root, loc)
        if not isinstance(item, dict):
            parsed.errors.append(RowError(source, line, "each CI must be a mapping"))
            continue
        try:
            record = CIRecord.model_validate(item)
        except ValidationError as exc:

            def lines(err_loc: tuple[Any, ...], _loc: tuple[Any, ...] = loc) -> int:
                return line_of(root, (*_loc, *err_loc))

            parsed.errors.extend(_validation_errors(exc, source, lines))
            parsed.unparsed_names.add(str(item.get("name", "")).strip())
            continue
        field_lines = {key: line_of(root, (*loc, key)) for key in item}
        parsed.rows.append(_Row(line, record, field_lines))
    return parsed


def _parse_csv(text: str, source: str) -> _Parsed:
    # newline="": the csv module must see raw line endings to keep \r inside quoted cells.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    known = set(SCALAR_FIELDS) | set(REL_FIELDS)
    bad = [h for h in header if h not in known and not h.startswith(CSV_ATTR_PREFIX)]
    if not header or "name" not in header or "class" not in header:
        return _Parsed(
            [], [RowError(source, 1, "the header needs at least the columns name and class")]
        )
    if bad:
        return _Parsed([], [RowError(source, 1, f"unknown column {bad[0]!r}")])
    parsed = _Parsed([], [])
    try:
        for raw in reader:
            _parse_csv_row(reader.line_num, raw, source, parsed)
    except csv.Error as exc:
        parsed.errors.append(RowError(source, reader.line_num, f"CSV syntax error: {exc}"))
    return parsed


def _parse_csv_row(line: int, raw: dict[str, str | None], source: str, parsed: _Parsed) -> None:
    if None in raw:
        parsed.errors.append(RowError(source, line, "more cells than columns in the header"))
        return
    try:
        record = CIRecord.model_validate(_csv_item(raw))
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            parsed.errors.extend(_validation_errors(exc, source, lambda _loc: line))
        else:
            parsed.errors.append(RowError(source, line, str(exc)))
        parsed.unparsed_names.add((raw.get("name") or "").strip())
        return
    parsed.rows.append(_Row(line, record))


def _csv_item(raw: dict[str, str | None]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for column, cell in raw.items():
        cell = (cell or "").strip()
        if column.startswith(CSV_ATTR_PREFIX):
            if cell:
                try:
                    attributes[column[len(CSV_ATTR_PREFIX) :]] = yaml.safe_load(cell)
                except yaml.YAMLError:
                    raise ValueError(f"{column}: not a valid value: {cell!r}") from None
        elif column in REL_FIELDS:
            item[column] = [name.strip() for name in cell.split(";") if name.strip()]
        elif cell:
            item[column] = cell
    item["attributes"] = attributes
    return item


# --- applying --------------------------------------------------------------------------------


def _check_references(
    rows: Sequence[_Row], existing: set[str], profiles: set[str] | None, source: str
) -> list[RowError]:
    """Checks across rows and against the store; `existing` holds every name already known."""
    errors: list[RowError] = []

    def problem(row: _Row, key: str, message: str) -> None:
        errors.append(RowError(source, row.line_of(key), f"{key}: {message}"))

    first_line: dict[str, int] = {}
    for row in rows:
        name = row.record.name
        if name in first_line:
            problem(row, "name", f"duplicate CI {name!r} (first at line {first_line[name]})")
        first_line.setdefault(name, row.line)
    known = existing | set(first_line)
    for row in rows:
        rec = row.record
        if rec.criticality is not None and rec.ci_class != CIClass.SERVICE:
            problem(row, "criticality", "only services have a criticality")
        if rec.monitored and rec.collector is None:
            problem(row, "collector", "a monitored CI needs a collector (local or snmp)")
        if rec.collector == Collector.SNMP and rec.monitored and not rec.address:
            problem(row, "address", "SNMP monitoring needs an address")
        # Profiles are checked only where they are used: an unmonitored CI may name a profile
        # that this machine's config does not define (yet).
        profile = rec.credential_profile
        if rec.monitored and rec.collector == Collector.SNMP:
            if profile is None:
                problem(row, "credential_profile", "SNMP monitoring needs a credential profile")
            elif profiles is not None and profile not in profiles:
                problem(row, "credential_profile", f"no profile {profile!r} in the config")
        for rel, targets in rec.relations().items():
            for target in targets:
                if target == rec.name:
                    problem(row, rel.value, f"a CI cannot {rel.label} itself")
                elif target not in known:
                    problem(row, rel.value, f"no CI named {target!r}")
    return sorted(errors, key=lambda e: e.line)


def _apply_fields(ci: CI, rec: CIRecord, present: set[str]) -> None:
    for key in present:
        if key in REL_FIELDS:
            continue
        value = getattr(rec, key)
        if hasattr(value, "value"):  # enums are stored as their string values
            value = value.value
        if key == "attributes":
            value = dict(value)
        if getattr(ci, key) != value:
            setattr(ci, key, value)


def import_rows(session: Session, rows: Sequence[_Row], source: str,
                profiles: set[str] | None = None,
                earlier_errors: Sequence[RowError] = (),
                unparsed_names: Set[str] = frozenset()) -> ImportResult:  # fmt: skip
    existing = {name for (name,) in session.execute(select(CI.name))} | set(unparsed_names)
    errors = [*earlier_errors, *_check_references(rows, existing, profiles, source)]
    if errors:
        raise CMDBImportError(sorted(errors, key=lambda e: e.line))
    result = ImportResult()
    by_name = {ci.name: ci for ci in session.scalars(select(CI))}
    for row in rows:
        rec = row.record
        present = {("ci_class" if k == "class" else k) for k in rec.model_fields_set}
        present |= {"name", "ci_class"}
        ci = by_name.get(rec.name)
        if ci is None:
            ci = CI(name=rec.name, ci_class=rec.ci_class.value)
            _apply_fields(ci, rec, set(CIRecord.model_fields) - set(REL_FIELDS))
            session.add(ci)
            by_name[rec.name] = ci
            result.created += 1
        else:
            _apply_fields(ci, rec, present)
            if session.is_modified(ci):
                result.updated += 1
            else:
                result.unchanged += 1
    session.flush()
    for row in rows:
        result.relationships += _replace_edges(session, by_name, row.record)
    session.flush()
    return result


def _replace_edges(session: Session, by_name: dict[str, CI], rec: CIRecord) -> int:
    source = by_name[rec.name]
    count = 0
    for rel, targets in rec.relations().items():
        wanted = {by_name[t].id for t in targets}
        current = {
            target_id: edge_id
            for edge_id, target_id in session.execute(
                select(Relationship.id, Relationship.target_id).where(
                    Relationship.source_id == source.id, Relationship.rel_type == rel.value
                )
            )
        }
        stale = [edge_id for target_id, edge_id in current.items() if target_id not in wanted]
        for edge in session.scalars(select(Relationship).where(Relationship.id.in_(stale))):
            session.delete(edge)
        for target_id in sorted(wanted - set(current)):
            session.add(Relationship(source_id=source.id, target_id=target_id, rel_type=rel.value))
        count += len(wanted)
    return count


def import_text(session: Session, text: str, fmt: Format, source: str,
                profiles: set[str] | None = None) -> ImportResult:  # fmt: skip
    parsed = _parse(text, fmt, source)
    return import_rows(session, parsed.rows, source, profiles, parsed.errors, parsed.unparsed_names)


def import_file(session: Session, path: Path, profiles: set[str] | None = None) -> ImportResult:
    """Import a YAML or CSV file; raises CMDBImportError (with every bad row) before any write."""
    fmt = format_of(path)
    try:
        with path.open(encoding="utf-8", newline="" if fmt == "csv" else None) as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CMDBImportError([RowError(str(path), 1, f"cannot read: {exc}")]) from None
    return import_text(session, text, fmt, str(path), profiles)


# --- export ----------------------------------------------------------------------------------

_CLASS_ORDER = {cls.value: i for i, cls in enumerate(CIClass)}


def _export_items(session: Session) -> list[dict[str, Any]]:
    cis = sorted(session.scalars(select(CI)), key=lambda c: (_CLASS_ORDER[c.ci_class], c.name))
    names = {ci.id: ci.name for ci in cis}
    edges: dict[tuple[int, str], list[str]] = {}
    for src, dst, rel in session.execute(
        select(Relationship.source_id, Relationship.target_id, Relationship.rel_type)
    ):
        edges.setdefault((src, rel), []).append(names[dst])
    items = []
    for ci in cis:
        item: dict[str, Any] = {"name": ci.name, "class": ci.ci_class}
        for key in SCALAR_FIELDS[2:]:
            value = getattr(ci, key)
            if value is not None and not (key == "monitored" and value is False):
                item[key] = value
        if ci.attributes:
            item["attributes"] = dict(sorted(ci.attributes.items()))
        for rel in REL_FIELDS:
            if targets := edges.get((ci.id, rel)):
                item[rel] = sorted(targets)
        items.append(item)
    return items


def export_text(session: Session, fmt: Format) -> str:
    items = _export_items(session)
    if fmt == "yaml":
        return yaml.safe_dump({"cis": items}, sort_keys=False, allow_unicode=True, width=100)
    return _to_csv(items)


def _to_csv(items: Iterable[dict[str, Any]]) -> str:
    items = list(items)
    attr_keys = sorted({k for item in items for k in item.get("attributes", {})})
    columns = [*SCALAR_FIELDS, *REL_FIELDS, *(CSV_ATTR_PREFIX + k for k in attr_keys)]
    out = io.StringIO()
    # RFC 4180 line ends: with "\r\n" as terminator the writer quotes any cell holding \r or \n.
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for item in items:
        row: dict[str, Any] = {k: item.get(k, "") for k in SCALAR_FIELDS}
        row["monitored"] = "true" if item.get("monitored") else ""
        for rel in REL_FIELDS:
            row[rel] = ";".join(item.get(rel, []))
        for key, value in item.get("attributes", {}).items():
            row[CSV_ATTR_PREFIX + key] = _yaml_scalar(value)
        writer.writerow(row)
    return out.getvalue()


def _yaml_scalar(value: Any) -> str:
    """A cell that yaml.safe_load reads back as the same value ('true' the string stays one)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
