"""Demo data for the embedded run: people with the password ``demo`` and an admin."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from portal.demo.clock import story_at
from portal.models import User
from portal.people_import import people_import

PEOPLE_CSV = Path(__file__).with_name("people.csv")
DEMO_PASSWORD = "demo"


# The people file was imported well before the demo's story starts, so the Council and its chair
# sit at the meetings the story tells of.
IMPORTED_DAYS_AGO = 35


@transaction.atomic
def seed_people() -> list[User]:
    with story_at(timezone.now() - dt.timedelta(days=IMPORTED_DAYS_AGO)):
        people_import(text=PEOPLE_CSV.read_text())
    people = list(User.objects.filter(username__in=_usernames()).order_by("username"))
    for person in people:
        if not person.has_usable_password():
            person.set_password(DEMO_PASSWORD)
            person.save(update_fields=["password"])
    admin = User.objects.filter(username="admin").first()
    if admin is None:
        User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD, full_name="Portal Admin")
    return people


def _usernames() -> list[str]:
    return [line.split(",", 1)[0] for line in PEOPLE_CSV.read_text().splitlines()[1:] if line.strip()]
