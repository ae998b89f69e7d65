"""Demo data for the embedded run: people with the password ``demo`` and an admin."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from portal.models import User
from portal.people_import import people_import

PEOPLE_CSV = Path(__file__).with_name("people.csv")
DEMO_PASSWORD = "demo"


@transaction.atomic
def seed_people() -> list[User]:
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
