# Job steps and errors, and notifications, hold message ids with parameters (console.texts),
# translated when shown; older rows keep their plain text, which is shown as it is.

from django.db import migrations, models

import console.texts


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0010_user_must_change_password"),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="error",
            field=console.texts.StoredTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="job",
            name="steps",
            field=models.JSONField(
                blank=True, decoder=console.texts.TextDecoder, default=list, encoder=console.texts.TextEncoder
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="body",
            field=console.texts.StoredTextField(blank=True, verbose_name="message"),
        ),
        migrations.AlterField(
            model_name="notification",
            name="title",
            field=console.texts.StoredTextField(verbose_name="title"),
        ),
    ]
