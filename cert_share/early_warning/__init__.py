"""Early warnings: correlation across reports, constituency (asset) matching, the warning
lifecycle (draft → pending → published; discarded, revoked, expired) and its STIX form.

Entry points:
- ``correlate.after_intake(session, incident)`` — called once by services.intake for every report.
- ``lifecycle.publish_warnings(session, now)`` — the ``publish-warnings`` job.
- ``lifecycle.review_warning / approve_warning / discard_warning / revoke_for_incident`` — CERT staff.
"""
