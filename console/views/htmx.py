from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect


def is_partial(request: HttpRequest) -> bool:
    """HTMX swaps (not boosted navigations) get the fragment instead of the full page."""
    return bool(request.htmx) and not request.htmx.boosted


def client_redirect(url: str) -> HttpResponse:
    """The answer to an htmx POST that worked: the browser loads `url` as a whole page (its
    messages included). Not HX-Location: that fetches the page as an htmx request, and the
    views answer those with their fragment."""
    return HttpResponseClientRedirect(url)
