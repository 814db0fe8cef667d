"""The kinds of mail the platform sends: the outbox's ``kind`` column, and what each is called
where a person reads about it (the preferences page, a notice in a message's place).

One list, below everything else in ``mail/``: messages, preferences, the outbox, delivery and
the services that queue mail all name a kind from here.
"""
from __future__ import annotations

from ..vocab import N_

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

# What the preferences page calls each kind a person chooses about (N_: translated where shown).
CHOICE_LABELS = {CRITICAL_REPORT: N_("Critical reports"), DRAFT_REVIEW: N_("Draft early warnings to review"),
                 ASSET_WARNING: N_("Early warnings about your organization's assets"),
                 DEADLINE_REMINDER: N_("Overdue reporting phases"),
                 EXERCISE: N_("Drills (exercise injects) your organization takes part in")}

# What a message of each kind is about, in a sentence ("It concerns ..."): a notice says it, in
# its recipient's language (N_: translated there).
ABOUT = {CRITICAL_REPORT: N_("a critical report"), DRAFT_REVIEW: N_("a draft to review"),
         ASSET_WARNING: N_("a warning about your organization's assets"), DEADLINE_REMINDER: N_("a reporting deadline"),
         DIGEST: N_("your digest"), DEAD_LETTERS: N_("mail that could not be delivered"),
         SITUATION: N_("the daily situation mail"), KEY_PROBLEM: N_("your OpenPGP key"),
         COOPERATION: N_("a cooperation request between CERTs"),
         EXERCISE: N_("a drill (an exercise, not a real incident)")}
