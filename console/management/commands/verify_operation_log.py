from django.core.management.base import BaseCommand, CommandError

from console.oplog import verify_chain


class Command(BaseCommand):
    help = "Check the operation log's hash chain; exits 1 and names the first broken entry."

    def handle(self, *args, **options):
        report = verify_chain(progress=lambda n: self.stderr.write(f"... {n} entries checked"))
        if not report.intact:
            raise CommandError(
                f"operation log broken at entry #{report.first_broken_id}: {report.reason} "
                f"({report.checked} entries before it are intact)"
            )
        self.stdout.write(self.style.SUCCESS(f"operation log intact: {report.checked} entries checked"))
