"""WSGI entry point: ``gunicorn wsgi:app``."""
from cert_share import worker_app

app = worker_app()
