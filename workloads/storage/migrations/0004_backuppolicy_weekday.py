from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("storage", "0003_csi_snapshots_and_skips"),
    ]

    operations = [
        migrations.AddField(
            model_name="backuppolicy",
            name="weekday",
            field=models.PositiveSmallIntegerField(
                blank=True,
                choices=[
                    (0, "Every Monday"),
                    (1, "Every Tuesday"),
                    (2, "Every Wednesday"),
                    (3, "Every Thursday"),
                    (4, "Every Friday"),
                    (5, "Every Saturday"),
                    (6, "Every Sunday"),
                ],
                null=True,
                verbose_name="day of the week",
            ),
        ),
    ]
