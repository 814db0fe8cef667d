"""The signed-in person as an audit/policy actor."""
from __future__ import annotations

from flask import request
from flask_login import current_user

from ..actor import Actor, actor_for_user


def current_actor() -> Actor:
    return actor_for_user(current_user, request.remote_addr)
