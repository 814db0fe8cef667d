"""gunicorn settings for cert-share.

``cert-share serve`` uses them; when running gunicorn yourself, pass
``-c python:cert_share.gunicorn_conf`` (gunicorn.conf.py at the top of the source tree does the
same for ``gunicorn wsgi:app`` started there).

The request line may be as long as gunicorn allows (8190 bytes; its default is 4094): a query
string of up to MAX_QUERY_STRING_LENGTH bytes then always reaches the app, which answers a
longer one with 414 in the route's own dialect (a TAXII error resource on /taxii2). Only a
request line over 8190 bytes still gets gunicorn's own 414 page.
"""
limit_request_line = 8190
