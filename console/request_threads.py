"""A fixed set of request threads per web process: the database connection budget under ASGI.

Django under ASGI runs each request's synchronous part (middleware, view, templates) on
a thread made for that request (asgiref's ThreadSensitiveContext), and each thread opens
its own PostgreSQL connection: under 200 users the web processes held 97 connections and
PostgreSQL refused more ("too many clients already"). daphne's ASGI_THREADS does not help:
it sizes the loop's default executor, which Django's thread-sensitive calls do not use.

Here each HTTP request borrows one of DATABASE_POOL_SIZE long-lived threads for its whole
life and gives it back at the end. A thread keeps its connection between requests
(CONN_MAX_AGE, with Django's health check at each request start), so this is a
connection pool with psycopg2 as it is, and it bounds the CPU-bound work in flight too:
requests beyond the budget wait for a thread (first come, first served) instead of
opening connections the server does not have. Websocket lookups (channels'
database_sync_to_async) share one more thread per process.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext


class RequestThreads:
    """ASGI middleware: HTTP requests run on one of `size` threads; other scopes pass through."""

    def __init__(self, app, size):
        if size < 1:
            raise ValueError("the pool needs at least one thread")
        self.app = app
        self.size = size
        self.idle = None  # asyncio.Queue of executors, made on the server's loop at the first request

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.idle is None:
            self.idle = asyncio.Queue()
            for n in range(self.size):
                self.idle.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{n}"))
        executor = await self.idle.get()
        try:
            # Django's own (inner) ThreadSensitiveContext finds this one and uses its thread.
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self.idle.put_nowait(executor)
