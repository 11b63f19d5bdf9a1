"""Normalisation of match keys: the same person or company must give the same key on both sides."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from accord.model import Value

_SPACES = re.compile(r"\s+")
_LEGAL_SUFFIX = re.compile(
    r"[,.]?\s+(inc|incorporated|llc|ltd|limited|gmbh|ag|sa|sas|bv|b\.v|nv|plc|corp|corporation|co)\.?$"
)


def email(v: Value) -> str | None:
    """Case and surrounding whitespace never make two addresses differ."""
    if not isinstance(v, str):
        return None
    s = v.strip().lower()
    return s if "@" in s and not s.startswith("@") and not s.endswith("@") else None


def domain(v: Value) -> str | None:
    """``https://www.Acme.com/about`` → ``acme.com``."""
    if not isinstance(v, str) or not v.strip():
        return None
    s = v.strip().lower()
    if "@" in s and "/" not in s:
        s = s.rsplit("@", 1)[1]
    host = urlsplit(s if "//" in s else f"//{s}").hostname or ""
    host = host.removeprefix("www.").strip(".")
    return host if "." in host else None


def company_name(v: Value) -> str | None:
    if not isinstance(v, str):
        return None
    s = _SPACES.sub(" ", v.strip().casefold())
    s = _LEGAL_SUFFIX.sub("", s).strip(" ,.")
    return s or None


def phone(v: Value, region: str = "US") -> str | None:
    """E.164 when the number parses, else digits only."""
    if not isinstance(v, str) or not v.strip():
        return None
    import phonenumbers  # 0.1 s to load: only once a phone number is compared, not with every CLI start

    try:
        n = phonenumbers.parse(v, region)
        if phonenumbers.is_possible_number(n):
            return str(phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    digits = re.sub(r"\D", "", v)
    return digits or None


def text(v: Value) -> str | None:
    if v is None:
        return None
    s = _SPACES.sub(" ", str(v).strip().casefold())
    return s or None


NORMALISERS = {"email": email, "domain": domain, "name": company_name, "company_name": company_name, "phone": phone}
