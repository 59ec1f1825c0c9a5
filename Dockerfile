FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY console ./console
COPY tenants ./tenants
COPY workloads ./workloads
COPY monitoring ./monitoring
COPY kubesemantics ./kubesemantics
RUN pip install .
COPY . .
# Static files are collected at build time; production settings need these only to import.
RUN CONSOLE_ENV=production SECRET_KEY=build DATABASE_URL=sqlite:////tmp/build.db REDIS_URL=redis://build \
    ALLOWED_HOSTS=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "console.asgi:application"]
