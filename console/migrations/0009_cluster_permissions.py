from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0008_job_heartbeat_cancel"),
    ]

    operations = [
        migrations.AddField(
            model_name="cluster",
            name="permissions_missing",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="cluster",
            name="permissions_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
