import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from console.body_limits import BodyLimit  # noqa: E402
from console.live.routing import websocket_urlpatterns  # noqa: E402
from console.request_threads import RequestThreads  # noqa: E402

application = ProtocolTypeRouter(
    {
        # A bounded set of request threads: the database connection budget (DATABASE_POOL_SIZE);
        # the bodies of views marked with body_limit() capped while they arrive.
        "http": BodyLimit(RequestThreads(django_asgi_app, settings.DATABASE_POOL_SIZE)),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
