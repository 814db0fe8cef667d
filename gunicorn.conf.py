"""Read by gunicorn when started in this directory (``gunicorn wsgi:app``): the app's settings."""
from cert_share.gunicorn_conf import *  # noqa: F401,F403
