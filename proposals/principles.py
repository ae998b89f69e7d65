"""The Council's principles, checked against a proposal. They inform reviewers; they never block."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.models import Function
from proposals.models import Blocker, ProposalKind


@dataclass(frozen=True)
class Check:
    key: str
    principle: str
    ok: bool
    message: str


def principle_checks(proposal) -> list[Check]:
    checks: list[Check] = []
    lead = proposal.technical_lead
    blocker = proposal.biggest_blocker
    if lead is None:
        checks.append(Check("lead", "Accountability", False, "No technical lead: every proposal needs exactly one."))
    elif blocker == Blocker.PRODUCTION and lead.function != Function.ML_ENGINEER:
        checks.append(Check("lead", "Accountability", False,
                            f"Production performance is the biggest blocker, so the lead should be an ML engineer; "
                            f"{lead.display_name} is a {lead.get_function_display().lower() or 'person with no function'}."))
    elif blocker == Blocker.STATISTICAL and lead.function not in (Function.DATA_SCIENTIST, Function.DS_MANAGER):
        checks.append(Check("lead", "Accountability", False,
                            f"Statistical performance is the biggest blocker, so the lead should be a data scientist; "
                            f"{lead.display_name} is a {lead.get_function_display().lower() or 'person with no function'}."))
    else:
        checks.append(Check("lead", "Accountability", True, f"{lead.display_name} leads; their function fits the biggest blocker."
                            if blocker else f"{lead.display_name} is the single technical lead."))

    ratio = proposal.impact_cost_ratio
    if proposal.kind != ProposalKind.HIRING:
        if ratio is None:
            checks.append(Check("impact_cost", "Sufficiency", False, "Impact or cost is not estimated yet, so the ratio cannot be judged."))
        elif ratio < Decimal("1"):
            checks.append(Check("impact_cost", "Sufficiency", False,
                                f"First-year impact is {ratio}× the cost: it costs more than it returns."))
        else:
            checks.append(Check("impact_cost", "Sufficiency", True, f"First-year impact is {ratio}× the build and maintenance cost."))

        if not (proposal.third_party_options or "").strip():
            checks.append(Check("third_party", "Speed", False,
                                "No third-party options considered: say which exist and why not, or why none fit."))
        else:
            checks.append(Check("third_party", "Speed", True, "Third-party options were considered."))

    team_size = proposal.team_members.count() if proposal.pk else 0
    if proposal.kind == ProposalKind.ML_APPLICATION and team_size < 2:
        checks.append(Check("team", "Incrementality", False,
                            f"Thin team: {team_size} person{'s' if team_size != 1 else ''} named. Who builds, who maintains?"))
    elif proposal.kind == ProposalKind.ML_APPLICATION:
        checks.append(Check("team", "Incrementality", True, f"A team of {team_size} is named."))

    if proposal.kind != ProposalKind.HIRING:
        components = [c for c in (proposal.platform_components or []) if str(c).strip()]
        if not components:
            checks.append(Check("platform", "Support", False, "Off-platform: it names no shared ML platform component it will build on."))
        else:
            checks.append(Check("platform", "Support", True, f"Builds on the platform: {', '.join(components)}."))
    return checks
