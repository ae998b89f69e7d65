from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.people_import import ImportRejected, people_import


class Command(BaseCommand):
    help = (
        "Create or update people, pods, pod leads and council roles from a CSV file with columns "
        "username,email,full_name,function,pod,pod_lead,council,chair. A file with any bad row imports nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file")
        except UnicodeDecodeError:
            raise CommandError(f"{file}: not a UTF-8 text file")
        try:
            report = people_import(text=text)
        except ImportRejected as exc:
            for line in exc.errors:
                self.stderr.write(f"{file}: {line}")
            raise CommandError(f"{len(exc.errors)} bad row(s) in {file}; nothing was imported.")
        for change in report.changes:
            self.stdout.write(change)
        self.stdout.write(self.style.SUCCESS(f"Imported {file}: {report.summary()}."))
