import importlib

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import seed


class Command(BaseCommand):
    help = "Load the demo people, pods, council and sample work. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="seed even with DEBUG off")
        parser.add_argument(
            "--allow-shared-database", action="store_true",
            help="seed even into the database DATABASE_URL names (as PORTAL_DEMO=1 does)",
        )

    def handle(self, *args, force=False, allow_shared_database=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo data (with known passwords) with DEBUG off; pass --force if you mean it.")
        if settings.DATABASE_URL and not (settings.PORTAL_DEMO or allow_shared_database):
            raise CommandError(
                "Refusing to load the demo people (password 'demo', an administrator among them) into the "
                "database DATABASE_URL names: it may be shared. Nothing was loaded. If it is a database of "
                "your own, pass --allow-shared-database or set PORTAL_DEMO=1."
            )
        people = seed.seed_people()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {len(people)} people."))
        # Each app may ship demo data as ``<app>.demo.seed()``; they run in INSTALLED_APPS order,
        # so an app's demo can build on the ones below it.
        for config in apps.get_app_configs():
            if config.name == "portal":
                continue
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            summary = module.seed()
            self.stdout.write(f"  {config.verbose_name}: {summary}")
        self.stdout.write("")
        self.stdout.write(f"  Sign in at {settings.PORTAL_URL}/ with password '{seed.DEMO_PASSWORD}' as:")
        for p in people:
            roles = []
            if p.pod_leads.exists():
                roles.append("pod lead")
            if p.council_memberships.exists():
                roles.append("council")
            if p.chair_terms.exists():
                roles.append("chair")
            extra = f" ({', '.join(roles)})" if roles else ""
            self.stdout.write(f"    {p.username:<8} {p.get_function_display()}, {p.pod or 'no pod'}{extra}")
        self.stdout.write(f"    {'admin':<8} administrator (also /admin/)")
        self.stdout.write("")
