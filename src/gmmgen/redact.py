"""Credentials never leave the process: find them in URIs and mask them in any text.

The pipeline takes credentials the way MLflow and the database drivers do
(environment variables, ``~/.netrc``, ``~/.mlflow/credentials``, ``~/.pgpass``),
never in a config value: a value holding one would be written to params.yaml,
Hydra's saved configs, logs and MLflow params. :func:`credentials_in` finds
them so the config can be rejected; :func:`redact` masks them in any text that
is about to be printed, logged or written.
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://userinfo@ ; the userinfo runs to the last "@" before the host, so a
# password holding a raw "@" is masked whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#'\"]*)@")
_SECRET_KEYS = (
    r"password|passwd|pwd|pass|token|access_token|auth_token|secret|client_secret|api_key|apikey|sig|signature"
)
_QUERY = re.compile(rf"(?P<key>(?:[?&;]|\b)(?:{_SECRET_KEYS})=)(?P<value>[^&;\s#'\"]+)", re.IGNORECASE)
# Schemes where a bare user name (no password) is itself used as a token.
_TOKEN_AS_USER = ("http", "https", "ftp", "ftps")


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match["scheme"], match["userinfo"]
    user, colon, password = userinfo.partition(":")
    if colon:
        return f"{scheme}{user}:{MASK}@"
    if scheme[:-3].lower() in _TOKEN_AS_USER:
        return f"{scheme}{MASK}@"
    return match[0]  # a database user name alone is not a secret


def redact(text: str) -> str:
    """``text`` with every password, token or secret query value in a URI replaced by ``***``."""
    if "@" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(_mask_userinfo, text)
    return _QUERY.sub(lambda m: f"{m['key']}{MASK}", text)


def credentials_in(value: str) -> bool:
    """Whether ``value`` carries a credential that :func:`redact` would mask."""
    return redact(value) != value


if __name__ == "__main__":  # python -m gmmgen.redact <command>: make's echo of a recipe line, ARGS masked
    import os
    import sys

    print(redact(" ".join([*sys.argv[1:], os.environ.get("GMMGEN_ARGS", "")]).rstrip()), flush=True)
