"""The TAXII blueprint's Accept check, remembered per header value: the same answers as worked
out each time, and no more remembered than the bound, whatever a client sends."""
from __future__ import annotations

from cert_share import taxii


def test_remembered_answers_are_the_worked_out_ones_and_bounded():
    taxii._ACCEPT_ANSWERS.clear()
    headers = []
    for n in range(taxii._MAX_ACCEPT_ANSWERS + 50):
        headers.append(f"application/taxii+json;version=2.1, text/x-{n}")  # accepted
        headers.append(f"application/taxii+json;version=2.{n % 9 + 2}")  # another version: refused
        headers.append(f"text/html;q=0.{n % 9 + 1}")  # refused
    for header in headers + headers:  # the second time, from the table where remembered
        assert taxii._accepted(header) == taxii._accept_ok(header), header
    assert taxii._accepted("application/taxii+json;version=2.1, text/x-7")
    assert not taxii._accepted("application/taxii+json;version=2.5")
    assert not taxii._accepted("text/html;q=0.3")
    assert len(taxii._ACCEPT_ANSWERS) == taxii._MAX_ACCEPT_ANSWERS
