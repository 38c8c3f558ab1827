"""The one error a delivery attempt raises, with the retry decision it carries.

A module of its own because the channels (`channels/`) and the transports they
use (`smtp.py`) both raise it, and the channels also hold the transports."""

from __future__ import annotations


class DeliveryError(Exception):
    """A failed attempt. `permanent`: retrying cannot help (410, unknown address, bad channel).
    `disable`: the destination itself is gone; stop everything queued for it now."""

    def __init__(self, message: str, permanent: bool = False, disable: bool = False):
        super().__init__(message)
        self.permanent = permanent or disable
        self.disable = disable
