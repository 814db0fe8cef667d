"""How long the text people write may be, and how many items a list may hold.

One number per rule, shared by the web form (its ``maxlength`` or validator), the API schema
(which refuses more, and states it in the OpenAPI document), the services that check again, the
importers that cut a partner's longer text to fit, and the model's column where it has a length.
The README's "Limits" table states the report fields' limits.
"""
from __future__ import annotations

# A report's or a warning's title.
MAX_TITLE = 300
# Long free text: a report's or a warning's description, a warning's recommended action, the
# summary of a reporting phase.
MAX_DESCRIPTION = 20_000
MAX_AFFECTED_SERVICES = 2_000
MAX_IMPACT = 5_000
# Observables in one report, counted before any is checked; a bigger import is split.
MAX_OBSERVABLES = 10_000
# Countries named in one list (a report's cross-border countries, a case's partner countries).
MAX_COUNTRIES = 250
# A client's own id for a report (external_id).
MAX_EXTERNAL_ID = 128
# An internal case note.
MAX_NOTE = 20_000
# Partner CERTs named on one case, and the length of each name.
MAX_PARTNER_CERTS = 50
MAX_PARTNER_CERT_NAME = 200
# An e-mail address (RFC 5321's path limit), a person's or an organization's name, an API
# token's name, a password as typed in a form.
MAX_EMAIL = 254
MAX_NAME = 200
MAX_TOKEN_NAME = 100
MAX_PASSWORD = 1024
# A search (the header box, /search, the API's observable lookup): the longest text, the rows
# each group of the answer lists before saying "more", the observables named per report, and
# the widest CIDR ranges searched (a wider one would walk every address the platform holds).
MAX_SEARCH_TEXT = 2048
SEARCH_GROUP_ROWS = 50
SEARCH_VALUES_PER_REPORT = 5
SEARCH_WIDEST_IPV4_PREFIX = 16
SEARCH_WIDEST_IPV6_PREFIX = 32
# An OpenPGP public key as uploaded (armored or binary): a few KiB with a few user ids and
# subkeys, more with many third-party signatures; far more is not a key a person means to send.
MAX_PGP_KEY = 256 * 1024
# A partner CERT's TAXII collection URL, and the name of an environment variable holding a
# credential for it.
MAX_URL = 2048
MAX_ENV_NAME = 128
# A cooperation request's message and an answer's; objects attached to one answer; partners one
# request goes to at once; languages a partner CERT works in.
MAX_COOPERATION_MESSAGE = 20_000
MAX_ANSWER_OBJECTS = 1_000
MAX_REQUEST_PARTNERS = 50
MAX_PARTNER_LANGUAGES = 20
# A drill (exercise): injects in its scenario, organizations taking part, sectors named to join
# at once, observables per inject, and how far after the start the last inject may come (minutes).
MAX_EXERCISE_INJECTS = 100
MAX_EXERCISE_PARTICIPANTS = 500
MAX_EXERCISE_SECTORS = 50
MAX_INJECT_OBSERVABLES = 1_000
MAX_INJECT_OFFSET_MINUTES = 60 * 24 * 90
