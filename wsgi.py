"""WSGI entry point: ``gunicorn wsgi:app``."""
from cert_share import create_app

app = create_app()
