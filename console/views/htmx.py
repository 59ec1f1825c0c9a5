from django.http import HttpResponse


def is_partial(request):
    """HTMX swaps (not boosted navigations) get the fragment instead of the full page."""
    return bool(request.htmx) and not request.htmx.boosted


def client_redirect(url):
    response = HttpResponse(status=204)
    response["HX-Location"] = url
    return response
