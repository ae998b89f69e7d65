"""Prepare the provider's database: tables, a fresh RSA signing key, the portal as a
confidential client, and the people who can sign in (all with the password "pw"), each in the
groups named after their email, comma-separated.

    python -m tests.oidc_provider.prepare CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME:EMAIL[:GROUP,...]...
"""

import os
import sys


def main(client_id: str, client_secret: str, redirect_uri: str, *people: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.oidc_provider.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from oidc_provider.models import Client, ResponseType

    call_command("migrate", verbosity=0)
    call_command("creatersakey")
    client = Client.objects.create(
        name="ML Council Portal", client_type="confidential", client_id=client_id,
        client_secret=client_secret, jwt_alg="RS256", require_consent=True, reuse_consent=False,
        _redirect_uris=redirect_uri, _scope="openid email profile groups",
    )
    client.response_types.set([ResponseType.objects.get(value="code")])
    for person in people:
        username, email, *groups = person.split(":", 2)
        user = User.objects.create_user(username, email=email, password="pw")
        for name in groups[0].split(",") if groups else []:
            user.groups.add(Group.objects.get_or_create(name=name)[0])


if __name__ == "__main__":
    main(*sys.argv[1:])
