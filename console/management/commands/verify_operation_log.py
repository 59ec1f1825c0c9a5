from django.core.management.base import BaseCommand, CommandError

from console.oplog.oplog import verify_chain


class Command(BaseCommand):
    help = "Check the operation log's hash chain; exits 1 and names the first broken entry."

    def handle(self, *args, **options):
        report = verify_chain(progress=lambda n: self.stderr.write(f"... {n} entries checked"))
        if not report.intact:
            if report.missing:  # found by the anchor: the entries in the database are intact, but too few
                detail = f"{report.missing} entries missing; {report.checked} entries in the database are intact"
            else:
                detail = f"{report.checked} entries before it are intact"
            raise CommandError(f"operation log broken at entry #{report.first_broken_id}: {report.reason} ({detail})")
        self.stdout.write(self.style.SUCCESS(f"operation log intact: {report.checked} entries checked"))
