from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0009_cluster_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="must_change_password",
            field=models.BooleanField(default=False, verbose_name="must change password"),
        ),
    ]
