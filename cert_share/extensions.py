"""Flask extension singletons, initialised in create_app(). Nothing else lives here.

(Flask-Migrate is set up on first use by database.migrations(): importing Alembic cost every
cert-share command and worker start a fifth of a second.)"""
from typing import TYPE_CHECKING, ClassVar

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
# When the limits' storage (Redis, REDIS_URL) cannot be reached, the limiter counts in this
# process's memory until Redis answers again, and logs that it does: sign-in stays limited, per
# worker, instead of failing. Any other error of the limiter is logged and the request served.
limiter = Limiter(key_func=get_remote_address, default_limits=[], in_memory_fallback_enabled=True,
                  swallow_errors=True)

# The base class of every model: db.Model, which flask-sqlalchemy builds at run time from its
# Model and Base. A type checker cannot take a base class from an attribute of an object, so it
# is shown the class those two make.
if TYPE_CHECKING:
    class Model(FlaskModel, Base):
        pass
else:
    Model = db.Model
