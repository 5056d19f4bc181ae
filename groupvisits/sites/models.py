"""The clinic locations that groups, staff and patients belong to."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupvisits.extensions import db
from groupvisits.timeutil import UTCDateTime, utcnow


class Site(db.Model):
    """A clinic location with its own IANA time zone."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: IANA name such as ``America/New_York``; sessions are shown in this zone.
    timezone: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Site {self.id} {self.name!r}>"
