"""Flask extension singletons, initialised in create_app(), and the limiter's class. Nothing else
lives here.

(Flask-Migrate is set up on first use by database.migrations(): importing Alembic cost every
cert-share command and worker start a fifth of a second.)"""
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.model import Model as FlaskModel
from flask_wtf import CSRFProtect
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model is mapped to a table (none to a join or a subquery, which DeclarativeBase
        # also allows and so declares __table__ a FromClause): Core inserts and updates take it.
        __table__: ClassVar[Table]


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()


class _Limiter(Limiter):
    """flask-limiter, except on the blueprints in ``blueprint_checks``: their one per-token limit
    is checked by their own function (auth/rate_limits.py), in the limiter's place among the
    before_request hooks, instead of by flask-limiter's per-request resolution of its limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.blueprint_checks: dict[str, Callable[[], None]] = {}

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        check = self.blueprint_checks.get(request.blueprint or "") if in_middleware else None
        if check is None:
            super()._check_request_limit(callable_name, in_middleware)
        else:
            check()

    def check_storage_recovered(self) -> None:
        """While the storage is marked unreachable, try it now and then (flask-limiter's back-off,
        as its own check does) and go back to it once it answers."""
        if self._storage_dead and self._fallback_limiter:
            # flask-limiter's private back-off (name-mangled), shared with its own check.
            due = self._Limiter__should_check_backend()  # type: ignore[attr-defined]
            if due and self._storage and self._storage.check():
                self.logger.info("Rate limit storage recovered")
                self._storage_dead = False
                self._Limiter__check_backend_count = 0


# When the limits' storage (Redis, REDIS_URL) cannot be reached, the limiter counts in this
# process's memory until Redis answers again, and logs that it does: sign-in stays limited, per
# worker, instead of failing. Any other error of the limiter is logged and the request served.
limiter = _Limiter(key_func=get_remote_address, default_limits=[], in_memory_fallback_enabled=True,
                   swallow_errors=True)

# The base class of every model: db.Model, which flask-sqlalchemy builds at run time from its
# Model and Base. A type checker cannot take a base class from an attribute of an object, so it
# is shown the class those two make.
if TYPE_CHECKING:
    class Model(FlaskModel, Base):
        pass
else:
    Model = db.Model
