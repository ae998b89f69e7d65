"""The database refuses to delete audit events too, and PostgreSQL refuses to TRUNCATE them.

0002 refused UPDATE only. Row triggers do not fire on TRUNCATE, so PostgreSQL gets a statement
trigger for it; SQLite has no TRUNCATE (its ``DELETE FROM`` without WHERE skips row triggers
only when the table has none). The test suite's ``flush`` between transactional tests sets these
triggers aside inside its own transaction (portal/management/commands/flush.py).
"""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER portal_auditevent_no_delete BEFORE DELETE ON portal_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS portal_auditevent_no_delete;"]

POSTGRES = [
    """CREATE OR REPLACE FUNCTION portal_auditevent_refuse_delete() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION USING MESSAGE = 'audit events are append-only: ' || TG_OP || ' refused'; END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER portal_auditevent_no_delete BEFORE DELETE ON portal_auditevent
       FOR EACH ROW EXECUTE FUNCTION portal_auditevent_refuse_delete();""",
    """CREATE TRIGGER portal_auditevent_no_truncate BEFORE TRUNCATE ON portal_auditevent
       FOR EACH STATEMENT EXECUTE FUNCTION portal_auditevent_refuse_delete();""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS portal_auditevent_no_truncate ON portal_auditevent;",
    "DROP TRIGGER IF EXISTS portal_auditevent_no_delete ON portal_auditevent;",
    "DROP FUNCTION IF EXISTS portal_auditevent_refuse_delete();",
]


def forwards(apps, schema_editor):
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_inapp_notifications_and_preferences")]
    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"base_manager_name": "objects", "ordering": ["created_at", "id"]},
        ),
        migrations.RunPython(forwards, backwards),
    ]
