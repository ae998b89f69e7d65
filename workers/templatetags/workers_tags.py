from django import template

from workers.cron import CronError, describe

register = template.Library()


@register.filter
def cron_words(expression: str) -> str:
    """A cron schedule in words: "*/15 * * * *" -> "every 15 minutes"."""
    try:
        words = describe(expression)
    except CronError:
        return expression
    return words[:1].lower() + words[1:]
