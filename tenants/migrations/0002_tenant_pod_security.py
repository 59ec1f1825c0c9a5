from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="pod_security",
            field=models.CharField(
                choices=[
                    ("restricted", "Restricted (hardened pods)"),
                    ("baseline", "Baseline (no privileged or host access)"),
                ],
                default="restricted",
                max_length=16,
                verbose_name="Pod Security level",
            ),
        ),
    ]
