"""Who gets a warning: the TLP 2.0 routing rules, as plain functions of the warning's sources.

| sources                                   | warning                         | goes to                        |
|-------------------------------------------|---------------------------------|--------------------------------|
| ≥ 2 organizations, all TLP:CLEAR/GREEN    | TLP:GREEN                       | ``all-members``                |
| ≥ 2 organizations, any TLP:AMBER          | TLP:AMBER                       | ``sector-<s>`` of every member |
|                                           |                                 | reporter's sector (a fraud     |
|                                           |                                 | identifier: FRAUD_WARNING_     |
|                                           |                                 | SECTORS too)                   |
| observable inside a member's assets,      | TLP:AMBER+STRICT                | ``org-<owner>`` only           |
| reported by someone else                  |                                 |                                |
| any TLP:AMBER+STRICT or TLP:RED source    | draft (strictest level)         | nowhere until CERT review      |

A warning built from member reports is never published as TLP:CLEAR automatically: CLEAR sources
give a GREEN warning (the floor); CERT staff may lower it to CLEAR by editing the warning.
An AMBER warning whose reporters have no member sector (partners only) becomes a draft too.
A warning about a fraud identifier (stix.fraud.FRAUD_TYPES: bank account, phone number, wallet,
card) is AMBER's need to know across sectors: the number that smished a telecom's customers is the
one the banks' customers are told to call, so it also goes to the fraud sectors (banks and
telecoms by default).
Which levels wait for review, and where CERT staff may then send a warning, is policy's
(``policy.needs_review``, ``policy.warning_targets_refusal``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from .. import policy
from ..config import sector_list, setting
from ..stix.fraud import FRAUD_TYPES
from ..vocab import strictest_tlp


@dataclass(frozen=True)
class Source:
    """One report that contributed to a warning, as far as routing needs to know."""

    org_id: int
    org_kind: str  # member | partner | cert
    sector: str
    tlp: str


@dataclass(frozen=True)
class Route:
    tlp: str
    targets: tuple[str, ...]  # collection aliases
    draft: bool  # True: waits for CERT review, never published automatically


def reporting_orgs(sources: Iterable[Source]) -> set[int]:
    return {s.org_id for s in sources}


def extra_sectors(obs_type: str, fraud_sectors: Iterable[str]) -> tuple[str, ...]:
    """The sectors an AMBER warning about ``obs_type`` goes to besides its reporters' own:
    ``fraud_sectors`` for a fraud identifier, none for anything else."""
    return tuple(fraud_sectors) if obs_type in FRAUD_TYPES else ()


def fraud_sectors() -> tuple[str, ...]:
    """The FRAUD_WARNING_SECTORS setting."""
    return sector_list("FRAUD_WARNING_SECTORS", setting("FRAUD_WARNING_SECTORS"))


def community_route(sources: Sequence[Source], *, also: Iterable[str] = ()) -> Route | None:
    """Correlation: the same observable from two or more organizations; None if it does not qualify.
    ``also``: sectors an AMBER warning goes to besides the member reporters' (extra_sectors); one
    no member reported still waits for review, with no target."""
    if len(reporting_orgs(sources)) < 2:
        return None
    level = strictest_tlp(s.tlp for s in sources) or policy.UNMARKED_AS  # unknown marking: the strict side
    if policy.needs_review(level):
        return Route(level, (), True)
    if level == "amber":
        reporters = {s.sector for s in sources if s.org_kind == "member"}
        if not reporters:
            return Route("amber", (), True)
        return Route("amber", tuple(f"sector-{sector}" for sector in sorted(reporters | set(also))), False)
    return Route("green", ("all-members",), False)


def owner_route(owner_org_id: int, owner_slug: str, sources: Sequence[Source]) -> Route | None:
    """Constituency match: the observable lies inside ``owner``'s assets and someone else reported it."""
    if not any(s.org_id != owner_org_id for s in sources):
        return None  # an organization reporting its own address needs no warning about it
    level = strictest_tlp(s.tlp for s in sources) or policy.UNMARKED_AS
    if policy.needs_review(level):
        return Route(level, (f"org-{owner_slug}",), True)
    return Route("amber+strict", (f"org-{owner_slug}",), False)
