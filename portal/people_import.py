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
from django.conf import settings
from django.core.validators import validate_email
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.errors import DomainError
from portal.models import ChairTerm, CouncilMembership, Function, Pod, PodLead, User
from portal.services import audit_record

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


def chair_term_length() -> relativedelta:
    return relativedelta(months=getattr(settings, "CHAIR_TERM_MONTHS", 12))


@transaction.atomic
def people_import(*, text: str, actor: User | None = None) -> ImportReport:
    rows = people_parse(text)
    report = ImportReport()
    today = timezone.localdate()
    pods: dict[str, Pod] = {p.name.lower(): p for p in Pod.objects.all()}
    for row in rows:
        pod = None
        if row.pod:
            pod = pods.get(row.pod.lower())
            if pod is None:
                pod = Pod.objects.create(name=row.pod)
                pods[row.pod.lower()] = pod
                report.pods_created.append(pod.name)
                audit_record(actor=actor, verb="pod.created", obj=pod, data={"source": "import_people"})
        user = User.objects.filter(username__iexact=row.username).first()
        changed: dict[str, list] = {}
        if user is None:
            user = User(username=row.username)
            user.set_unusable_password()
            created = True
        else:
            created = False
        for attr, value in (("email", row.email), ("full_name", row.full_name), ("function", row.function)):
            if getattr(user, attr) != value:
                changed[attr] = [getattr(user, attr), value]
                setattr(user, attr, value)
        if (user.pod_id if not created else None) != (pod.pk if pod else None):
            changed["pod"] = [str(user.pod) if user.pod_id else "", pod.name if pod else ""]
            user.pod = pod
        if created or changed:
            user.save()
        if created:
            report.created.append(user.username)
            audit_record(actor=actor, verb="user.created", obj=user, data={"source": "import_people", "function": row.function, "pod": row.pod})
        _sync_pod_lead(user, pod, row, actor, report, changed)
        _sync_council(user, row, actor, today, changed)
        if not created:
            if changed:
                report.updated.append(user.username)
                audit_record(actor=actor, verb="user.updated", obj=user, data={"source": "import_people", "changes": changed})
            else:
                report.unchanged.append(user.username)
    chair_row = next((r for r in rows if r.chair), None)
    if chair_row is not None:
        _sync_chair(User.objects.get(username__iexact=chair_row.username), actor, today, report)
    return report


def _sync_pod_lead(user, pod, row, actor, report, changed) -> None:
    current = list(PodLead.objects.filter(user=user))
    for lead in current:
        keep = row.pod_lead and pod is not None and lead.pod_id == pod.pk and lead.function == row.function
        if not keep:
            changed.setdefault("pod_lead_removed", []).append(f"{lead.pod.name}:{lead.function}")
            lead.delete()
    if row.pod_lead and pod is not None:
        lead = PodLead.objects.filter(pod=pod, function=row.function).select_related("user").first()
        if lead is None:
            PodLead.objects.create(pod=pod, function=row.function, user=user)
            changed.setdefault("pod_lead", [None, f"{pod.name}:{row.function}"])
        elif lead.user_id != user.pk:
            changed.setdefault("pod_lead", [lead.user.username, f"{pod.name}:{row.function}"])
            lead.user = user
            lead.save(update_fields=["user"])


def _sync_council(user, row, actor, today: date, changed) -> None:
    active = CouncilMembership.objects.active_on(today).filter(user=user).first()
    if row.council and active is None:
        CouncilMembership.objects.create(user=user, start_date=today)
        changed["council"] = [False, True]
    elif not row.council and active is not None:
        # Off the council from today: the last day served is yesterday (end dates are
        # inclusive). A membership that only began today is withdrawn outright.
        if active.start_date >= today:
            active.delete()
        else:
            active.end_date = today - relativedelta(days=1)
            active.save(update_fields=["end_date"])
        changed["council"] = [True, False]


def _sync_chair(user, actor, today: date, report: ImportReport) -> None:
    current = ChairTerm.objects.active_on(today).order_by("-start_date", "-id").first()
    if current is not None and current.user_id == user.pk:
        return
    if current is not None:
        current.end_date = max(current.start_date, today - relativedelta(days=1))
        current.save(update_fields=["end_date"])
    term = ChairTerm.objects.create(user=user, start_date=today, end_date=today + chair_term_length() - relativedelta(days=1))
    audit_record(
        actor=actor,
        verb="chair.handed_over",
        obj=term,
        from_state=current.user.username if current else "",
        to_state=user.username,
        data={"source": "import_people", "end_date": term.end_date.isoformat()},
    )
    report.changes.append(f"{user.username} is chair until {term.end_date:%Y-%m-%d}")
