"""``flush`` with the audit log's promise kept: it never erases audit events outside the tests.

The database refuses to delete or truncate audit events (migrations 0002 and 0005), so Django's
own ``flush`` would fail halfway on the portal's tables. Outside the tests it now refuses at once
and deletes nothing. Under the test settings (``AUDIT_LOG_FLUSHABLE``), which flush the test
database between transactional and live-server tests, it sets the audit triggers aside inside
the flush's own transaction and puts them back before it commits, so no other connection ever
sees the table unguarded.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlushCommand
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections, transaction

from portal.models import AuditEvent


class Command(DjangoFlushCommand):
    def handle(self, **options):
        if not settings.AUDIT_LOG_FLUSHABLE:
            raise CommandError(
                "The audit log is append-only and flush would erase it, so nothing was deleted. "
                "To start again from nothing, stop the portal and delete its var/ folder (SQLite) "
                "or drop and create the database (PostgreSQL)."
            )
        connection = connections[options["database"]]
        with transaction.atomic(using=connection.alias):
            restore = _audit_triggers_aside(connection)
            super().handle(**{**options, "inhibit_post_migrate": True})
            # Back before anything writes again: PostgreSQL refuses to alter a table with
            # pending (deferred foreign key) trigger events.
            restore()
        # What migrate would create again (permissions, default schedules), as Django's flush does.
        any_table = bool(connection.introspection.django_table_names(only_existing=True, include_views=False))
        if any_table and not options.get("inhibit_post_migrate", False):
            emit_post_migrate_signal(options["verbosity"], options["interactive"], options["database"])


def _audit_triggers_aside(connection):
    """Set aside the audit table's triggers in the current transaction; returns what puts them back."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            return lambda: None
        if connection.vendor == "postgresql":
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"ALTER TABLE {quoted} DISABLE TRIGGER USER")

            def restore():
                with connection.cursor() as c:
                    c.execute(f"ALTER TABLE {quoted} ENABLE TRIGGER USER")

            return restore
        if connection.vendor == "sqlite":
            # SQLite cannot disable a trigger: drop it and create it again from its own definition.
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")

            def restore():
                with connection.cursor() as c:
                    for _, sql in triggers:
                        c.execute(sql)

            return restore
    return lambda: None
