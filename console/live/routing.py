from django.urls import path

from console.live import realtime
from console.live.consumers import LiveConsumer

# Feature apps add their own sockets from AppConfig.ready() (realtime.register_socket), before this is imported.
websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi()), *realtime.socket_routes()]
