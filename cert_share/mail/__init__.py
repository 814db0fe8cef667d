"""E-mail: a transactional outbox, SMTP (or maildir) delivery with retries, digests, templates.

    outbox.py     enqueue() into the caller's transaction; recipient helpers; dead letters
    delivery.py   claim due rows under a lease and deliver them (the ``send-mail`` job)
    transport.py  SMTP and maildir transports; TransientError / PermanentError
    digest.py     the ``send-digest`` run: held-back mail per recipient, dead letters to CERT admins
    kinds.py      the kinds of mail, named once
    templates.py  Jinja templates for the plain-text and HTML parts
"""
