"""The kinds of mail the platform sends: the outbox's ``kind`` column, and what each is called
where a person reads about it (the preferences page, a notice in a message's place).

One list, below everything else in ``mail/``: messages, preferences, the outbox, delivery and
the services that queue mail all name a kind from here.
"""
from __future__ import annotations

CRITICAL_REPORT = "critical-report"
DRAFT_REVIEW = "draft-review"
ASSET_WARNING = "asset-warning"
DEADLINE_REMINDER = "deadline-reminder"
DIGEST = "digest"
DEAD_LETTERS = "dead-letters"
SITUATION = "situation"
KEY_PROBLEM = "pgp-key"
COOPERATION = "cooperation"  # to a partner CERT's 24/7 contact, its bundle attached
EXERCISE = "exercise"  # a drill's inject, to the participating organizations

# The kinds a person chooses about on /account/mail (at once, in the digest, not at all; an
# UNCAPPED kind only at once or not at all).
CHOOSABLE: tuple[str, ...] = (CRITICAL_REPORT, DRAFT_REVIEW, ASSET_WARNING, DEADLINE_REMINDER, EXERCISE)
ALL: tuple[str, ...] = (*CHOOSABLE, DIGEST, DEAD_LETTERS, SITUATION, KEY_PROBLEM, COOPERATION)

# Never folded into a digest, neither by choice nor by the hourly cap: a digest must not fold
# itself, the CERT admins' dead-letter mail goes out in the same run, a partner CERT's request
# must not wait for a digest it never gets, and a drill measures the response to alert mail as it
# arrives (folded, an inject would also lose its [EXERCISE] subject and its exercise_id, and so
# outlive the exercise's deletion as real mail).
UNCAPPED: frozenset[str] = frozenset({DIGEST, DEAD_LETTERS, COOPERATION, EXERCISE})

# What the preferences page calls each kind a person chooses about.
CHOICE_LABELS = {CRITICAL_REPORT: "Critical reports", DRAFT_REVIEW: "Draft early warnings to review",
                 ASSET_WARNING: "Early warnings about your organization's assets",
                 DEADLINE_REMINDER: "Overdue reporting phases",
                 EXERCISE: "Drills (exercise injects) your organization takes part in"}

# What a message of each kind is about, in a sentence ("It concerns ..."): a notice says it.
ABOUT = {CRITICAL_REPORT: "a critical report", DRAFT_REVIEW: "a draft to review",
         ASSET_WARNING: "a warning about your organization's assets", DEADLINE_REMINDER: "a reporting deadline",
         DIGEST: "your digest", DEAD_LETTERS: "mail that could not be delivered",
         SITUATION: "the daily situation mail", KEY_PROBLEM: "your OpenPGP key",
         COOPERATION: "a cooperation request between CERTs", EXERCISE: "a drill (an exercise, not a real incident)"}
