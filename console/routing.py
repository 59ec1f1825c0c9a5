from django.urls import path

from . import realtime
from .consumers import LiveConsumer

# Feature apps add their own sockets from AppConfig.ready() (realtime.register_socket), before this is imported.
websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi()), *realtime.socket_routes()]
