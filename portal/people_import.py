"""Importing people, pods, pod leads and council roles from a CSV file.

The file is the truth for the people it names: running it twice changes nothing the
second time. A file with any bad row imports nothing; every bad row is reported.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from dateutil.relativedelta import relativedelta
from django.core.validators import validate_email
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError
from portal.models import CouncilMembership, Function, Pod, PodLead, User
from portal.people import (
    chair_handover, council_membership_add, council_membership_end, person_add, person_update,
    pod_add, pod_lead_set,
)
from portal.selectors import chair_term_current

COLUMNS = ("username", "email", "full_name", "function", "pod", "pod_lead", "council", "chair")
TRUE = {"true", "yes", "1", "y"}
FALSE = {"false", "no", "0", "n", ""}
USERNAME_RE = re.compile(r"^[\w.@+-]{1,150}$")


class ImportRejected(DomainError):
    """The file had bad rows; ``errors`` holds one readable line per problem."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} problem(s) in the file; nothing was imported.", errors=errors)
        self.errors = errors


@dataclass
class PersonRow:
    line: int
    username: str
    email: str
    full_name: str
    function: str
    pod: str
    pod_lead: bool
    council: bool
    chair: bool


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pods_created: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged; "
            f"{len(self.pods_created)} new pod(s)"
        )


def _bool(value: str, column: str, errors: list[str]) -> bool:
    v = (value or "").strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    errors.append(f"{column} must be true or false, not {value!r}")
    return False


def people_parse(text: str) -> list[PersonRow]:
    """Parse and validate every row; raise ImportRejected naming each bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportRejected([f"line 1: missing column(s): {', '.join(missing)} (expected {','.join(COLUMNS)})"])
    reader.fieldnames = header
    functions = {f.value for f in Function}
    rows: list[PersonRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(reader, start=2):
        if raw is None or all(not (v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue
        if None in raw:
            problems.append(f"line {index}: more fields than the {len(header)} columns")
            continue
        errors: list[str] = []
        username = (raw.get("username") or "").strip()
        email = (raw.get("email") or "").strip()
        function = (raw.get("function") or "").strip().lower()
        pod = (raw.get("pod") or "").strip()
        if not username:
            errors.append("username is empty")
        elif not USERNAME_RE.match(username):
            errors.append(f"username {username!r} may hold only letters, digits and @.+-_")
        elif username.lower() in seen:
            errors.append(f"username {username!r} already appears on line {seen[username.lower()]}")
        if not email:
            errors.append("email is empty")
        else:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(f"email {email!r} is not a valid address")
        if function not in functions:
            errors.append(f"function {raw.get('function')!r} is not one of {', '.join(sorted(functions))}")
        pod_lead = _bool(raw.get("pod_lead", ""), "pod_lead", errors)
        council = _bool(raw.get("council", ""), "council", errors)
        chair = _bool(raw.get("chair", ""), "chair", errors)
        if pod_lead and not pod:
            errors.append("pod_lead is true but no pod is given")
        if chair and not council:
            errors.append("chair is true but council is false: the chair must be a council member")
        if errors:
            problems.append(f"line {index}: " + "; ".join(errors))
            continue
        seen[username.lower()] = index
        rows.append(
            PersonRow(index, username, email, (raw.get("full_name") or "").strip(), function, pod, pod_lead, council, chair)
        )
    chairs = [r for r in rows if r.chair]
    if len(chairs) > 1:
        problems.append("lines " + ", ".join(str(r.line) for r in chairs) + ": only one person can be chair")
    leads: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.pod_lead:
            key = (r.pod.lower(), r.function)
            if key in leads:
                problems.append(
                    f"line {r.line}: pod {r.pod!r} already has a {r.function} lead on line {leads[key]}"
                )
            leads[key] = r.line
    if problems:
        raise ImportRejected(sorted(problems, key=lambda p: int(re.search(r"\d+", p).group())))
    if not rows:
        raise ImportRejected(["the file has a header but no people"])
    return rows


SOURCE = "import_people"


@transaction.atomic
def people_import(*, text: str, actor: User | None = None) -> ImportReport:
    """Every change goes through the same services as the pages and the API (``portal.people``),
    so the import is authorised and audited like them; what a service refuses becomes a problem
    on the row's line, and nothing is imported."""
    rows = people_parse(text)
    report = ImportReport()
    today = timezone.localdate()
    pods: dict[str, Pod] = {p.name.lower(): p for p in Pod.objects.all()}
    problems: list[str] = []
    outcome: dict[int, tuple[User, bool, dict]] = {}
    for row in rows:
        try:
            outcome[row.line] = _import_row(row, actor, pods, report, today)
        except DomainError as refusal:
            problems.append(f"line {row.line}: {refusal.message}")
    chair_row = next((r for r in rows if r.chair), None)
    if chair_row is not None and chair_row.line in outcome:
        try:
            _sync_chair(outcome[chair_row.line][0], actor, today, report)
        except DomainError as refusal:
            problems.append(f"line {chair_row.line}: {refusal.message}")
    # Leaving the Council comes after the handover, so that a chair who hands over in the same
    # file can step down from the Council too.
    for row in rows:
        if row.line in outcome and not row.council:
            try:
                _leave_council(outcome[row.line][0], actor, today, outcome[row.line][2])
            except DomainError as refusal:
                problems.append(f"line {row.line}: {refusal.message}")
    if problems:
        raise ImportRejected(problems)
    for row in rows:
        user, created, changed = outcome[row.line]
        if created:
            report.created.append(user.username)
        elif changed:
            report.updated.append(user.username)
        else:
            report.unchanged.append(user.username)
    return report


def _import_row(row: PersonRow, actor, pods: dict[str, Pod], report: ImportReport, today: date) -> tuple[User, bool, dict]:
    pod = None
    if row.pod:
        pod = pods.get(row.pod.lower())
        if pod is None:
            pod = pod_add(actor=actor, name=row.pod, source=SOURCE)
            pods[row.pod.lower()] = pod
            report.pods_created.append(pod.name)
    user = User.objects.filter(username__iexact=row.username).select_related("pod").first()
    created = user is None
    if created:
        user = person_add(actor=actor, username=row.username, email=row.email, full_name=row.full_name,
                          function=row.function, pod=pod, source=SOURCE)
        changed: dict[str, list] = {}
    else:
        changed = person_update(actor=actor, user=user, email=row.email, full_name=row.full_name,
                                function=row.function, pod=pod, source=SOURCE)
    _sync_pod_lead(user, pod, row, actor, changed)
    if row.council and not CouncilMembership.objects.active_on(today).filter(user=user).exists():
        council_membership_add(actor=actor, user=user, start_date=today, source=SOURCE)
        changed["council"] = [False, True]
    return user, created, changed


def _sync_pod_lead(user, pod, row, actor, changed) -> None:
    for lead in list(PodLead.objects.filter(user=user).select_related("pod")):
        keep = row.pod_lead and pod is not None and lead.pod_id == pod.pk and lead.function == row.function
        if not keep:
            changed.setdefault("pod_lead_removed", []).append(f"{lead.pod.name}:{lead.function}")
            pod_lead_set(actor=actor, pod=lead.pod, function=lead.function, user=None, source=SOURCE)
    if row.pod_lead and pod is not None:
        lead = PodLead.objects.filter(pod=pod, function=row.function).select_related("user").first()
        if lead is None or lead.user_id != user.pk:
            changed.setdefault("pod_lead", [lead.user.username if lead else None, f"{pod.name}:{row.function}"])
            pod_lead_set(actor=actor, pod=pod, function=row.function, user=user, source=SOURCE)


def _leave_council(user, actor, today: date, changed) -> None:
    active = CouncilMembership.objects.active_on(today).filter(user=user).first()
    if active is not None:
        # Off the council from today: the last day served is yesterday (end dates are
        # inclusive). A membership that only began today is withdrawn outright.
        council_membership_end(actor=actor, membership=active, end_date=today - relativedelta(days=1), source=SOURCE)
        changed["council"] = [True, False]


def _sync_chair(user, actor, today: date, report: ImportReport) -> None:
    current = chair_term_current(day=today)
    if current is not None and current.user_id == user.pk:
        return
    term = chair_handover(actor=actor, to_user=user, from_date=today, source=SOURCE)
    report.changes.append(f"{user.username} is chair until {term.end_date:%Y-%m-%d}")
