"""Matchers over alert fields, as Alertmanager writes them: `ci=web-01`, `check!=cpu.percent`,
`service=~shop|pay.*`, `text!~test`. Regular expressions match the whole value."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

FIELDS = ("ci", "check", "severity", "service", "text", "resource", "source")
OPERATORS = ("=~", "!~", "!=", "=")
_MATCHER = re.compile(r"^\s*([a-z_]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


class MatcherError(ValueError):
    """A matcher an operator wrote that cannot be used, worded for them."""


class Matchable(Protocol):
    """What matchers look at: an Alert row or the pipeline's draft of one."""

    @property
    def ci_name(self) -> str: ...
    @property
    def check(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def services(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def source(self) -> str: ...


def split_services(services: str) -> list[str]:
    return [s for s in (part.strip() for part in services.split(",")) if s]


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Matcher:
    field: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise MatcherError(
                f"unknown field {self.field!r} in a matcher (use {', '.join(FIELDS)})"
            )
        if self.op not in OPERATORS:
            raise MatcherError(f"unknown operator {self.op!r} (use =, !=, =~, !~)")
        if self.op in ("=~", "!~"):
            try:
                _compiled(self.value)
            except re.error as exc:
                raise MatcherError(f"{self}: bad regular expression: {exc}") from None

    def __str__(self) -> str:
        return f"{self.field}{self.op}{self.value}"

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _MATCHER.match(text)
        if found is None:
            raise MatcherError(
                f"bad matcher {text!r}: write FIELD OP VALUE, e.g. ci=web-01 or check=~fs.*"
            )
        field, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        return cls(field, op, value)

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Matcher:
        return cls(data["field"], data["op"], data["value"])

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "op": self.op, "value": self.value}

    def _values(self, alert: Matchable) -> list[str]:
        if self.field == "service":
            return split_services(alert.services)
        return [
            {
                "ci": alert.ci_name,
                "check": alert.check,
                "severity": alert.severity,
                "text": alert.message,
                "resource": alert.resource,
                "source": alert.source,
            }[self.field]
        ]

    def matches(self, alert: Matchable) -> bool:
        values = self._values(alert)
        if self.op == "=":
            return self.value in values or (not values and self.value == "")
        if self.op == "!=":
            return self.value not in values
        if self.field == "text":  # a regex on free text finds, it does not need to match all
            hit = any(_compiled(self.value).search(v) for v in values)
        else:
            hit = any(_compiled(self.value).fullmatch(v) for v in values)
        return hit if self.op == "=~" else not hit


def all_match(matchers: Iterable[Matcher], alert: Matchable) -> bool:
    return all(m.matches(alert) for m in matchers)
