"""One view for every "parse a form, call a service, answer" page (NetBox's ObjectEditView,
reduced to a console whose business rules live in services).

A POST looks the target object up (404 for what the user may not see, 403 for what they may
not change), binds the form to the POST (an empty POST is bound too, so it gets its
messages), calls the service as the user and then redirects: a 302 for a full page, a
client redirect for htmx (whose own redirects would land inside the page). Bad input and
refusals re-render the page with the form, its errors and a 400. Configure a view with
`as_view(**attributes)`, or subclass it for the hooks:

    app_scale = AppActionView.as_view(service=services.scale_app, form_class=ScaleForm, form_name="scale_form",
                                      success_message=gettext_lazy("Scaling %(name)s."))
"""

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.views import View
from django.views.decorators.http import require_http_methods

from console.accounts.access import call_service, require
from console.views.htmx import client_redirect

Result = Any  # whatever the service returns: the new object, (object, job), ...


def add_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: under its field when the form has it."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def message_of(exc: ValidationError) -> str:
    return " ".join(exc.messages)


class ServiceFormView(View):
    """Attributes (each may be given to `as_view`):

    - `service`: called as `service(*service_args(), acting_user=user, **service_kwargs(form))`;
      its PermissionError is a 403, its ValidationError a 400 with the page again.
    - `form_class`, `form_name`: the form and its name in the template context (None: no form);
      `form_object`: the keyword that hands the object to the form (`project=`), if any. The
      form's `arguments()`, when it has one, gives the service's keyword arguments.
    - `strict_form`: False for a confirmation form: the service judges it, so the fields that
      do not parse are passed empty instead of refused here.
    - `url_arguments`: service keyword -> URL keyword (`{"pod_name": "pod"}`).
    - `template_name`: the page (or partial) shown on GET and again on bad input.
    - `invalid_message`: said (as a message) when the form does not parse; `errors_as_message`:
      the service's refusal is said as a message too (pages whose forms are folded away).
    - `success_message` (`%(name)s` is the object's name), `success_url` (a URL or URL name).
    - `allowed`, `denied_message`: the role check (`console.accounts.access.require`);
      `anonymous`: a page for people not signed in (no check at all).

    Hooks: `get_object` (lookup and permission check, before the form is read),
    `get_form_kwargs`, `get_context_data`, `service_args`, `service_kwargs`, `refused`,
    `announce`, `message_params`, `get_success_url`.
    """

    http_method_names: list[str] = ["post"]
    service: Callable[..., Result] | None = None
    form_class: type[forms.Form] | None = None
    form_name: str = "form"
    form_object: str = ""
    strict_form: bool = True
    url_arguments: Mapping[str, str] = {}
    template_name: str = ""
    invalid_message: str = ""
    errors_as_message: bool = False
    success_message: str = ""
    success_url: str = ""
    allowed: Callable[[Any], bool] | None = None
    denied_message: str | None = None
    # Pages for people not signed in (an invitation making an account): no sign-in check.
    anonymous: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("service", "allowed"):  # plain functions, not methods of the view
            if inspect.isfunction(cls.__dict__.get(name)):
                setattr(cls, name, staticmethod(cls.__dict__[name]))

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        view = super().as_view(**initkwargs)
        allowed, denied_message, methods, anonymous = (
            initkwargs.get(name, getattr(cls, name))
            for name in ("allowed", "denied_message", "http_method_names", "anonymous")
        )
        if not anonymous:
            view = require(allowed, denied_message)(view)
        return require_http_methods([method.upper() for method in methods])(view)

    # --- the request -----------------------------------------------------------------

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.object = self.get_object()
        self.form = self.get_form()
        return self.render_page(self.form, status=200)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.object = self.get_object()
        self.form = form = self.get_form(request.POST, request.FILES)
        if form is not None and not form.is_valid() and self.strict_form:
            if self.invalid_message:
                messages.error(request, str(self.invalid_message))
            return self.render_page(form, status=400)
        try:
            result = call_service(request, self.service, *self.service_args(), **self.service_kwargs(form))
        except ValidationError as exc:
            return self.refused(form, exc)
        self.announce(result)
        url = self.get_success_url(result)
        return client_redirect(url) if request.htmx else redirect(url)

    def refused(self, form: forms.Form | None, exc: ValidationError, status: int = 400) -> HttpResponse:
        if form is not None:
            add_errors(form, exc)
        if form is None or self.errors_as_message:
            messages.error(self.request, message_of(exc))
        return self.render_page(form, status=status)

    def render_page(self, form: forms.Form | None, status: int) -> HttpResponse:
        context = self.get_context_data(**({self.form_name: form} if form is not None else {}))
        return render(self.request, self.template_name, context, status=status)

    # --- hooks -----------------------------------------------------------------------

    def get_object(self) -> Any:
        """The object the service acts on (None: the service makes one)."""
        return None

    def get_form(self, data: Any = None, files: Any = None) -> forms.Form | None:
        if self.form_class is None:
            return None
        return self.form_class(data, files, **self.get_form_kwargs())

    def get_form_kwargs(self) -> dict[str, Any]:
        return {self.form_object: self.object} if self.form_object else {}

    def get_context_data(self, **extra: Any) -> dict[str, Any]:
        return extra

    def service_args(self) -> tuple[Any, ...]:
        return () if self.object is None else (self.object,)

    def service_kwargs(self, form: forms.Form | None) -> dict[str, Any]:
        """The form's `arguments()`, or else its values (a field that did not parse: its empty
        value), then the URL's."""
        if hasattr(form, "arguments"):
            values = form.arguments()
        else:
            fields = form.fields.items() if form is not None else ()
            values = {name: form.cleaned_data.get(name, getattr(field, "empty_value", None)) for name, field in fields}
        return {**values, **{argument: self.kwargs[key] for argument, key in self.url_arguments.items()}}

    def announce(self, result: Result) -> None:
        if self.success_message:
            messages.success(self.request, str(self.success_message) % self.message_params(result))

    def message_params(self, result: Result) -> dict[str, Any]:
        return {"name": getattr(self.object, "name", "")}

    def get_success_url(self, result: Result) -> str:
        if not self.success_url:
            raise ImproperlyConfigured(f"{type(self).__name__} needs success_url or get_success_url")
        return resolve_url(self.success_url)
