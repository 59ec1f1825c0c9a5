from django.core.management.commands import makemessages


class Command(makemessages.Command):
    """Django's makemessages, which also finds the stored sentences defined with
    console.texts.message and console.texts.plural."""

    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=message", "--keyword=plural:1,2"]
