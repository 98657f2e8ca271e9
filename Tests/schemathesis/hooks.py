"""Schemathesis hooks for fuzzing Gatehouse's admin API (used by Tests/schemathesis/run.sh).

Load with ``SCHEMATHESIS_HOOKS=Tests/schemathesis/hooks.py`` (a file path or an importable
module name); written against schemathesis 4.32.5.

Path parameters (tenant id, IdP names, key id, session header and id) are fixed in
``schemathesis.toml`` (``[parameters]`` / ``[[operations]] parameters``), not here: that is the
declarative way in schemathesis 4 and applies to every phase. These hooks only do what the
configuration cannot:

* ``PUT /admin/v1/tenants/{t}/idps/{name}`` makes Gatehouse fetch the body's ``discovery_url``
  or ``jwks_uri`` live. Generated URLs name arbitrary hosts, and a test must never make the
  server under test connect off the machine, so every string ``discovery_url`` / ``jwks_uri``
  is replaced, right before the request goes out (in every phase, positive and negative), by
  ``GATEHOUSE_ST_DISCOVERY_URL`` / ``GATEHOUSE_ST_JWKS_URI``. run.sh points them at the
  loopback IdP the running instance already trusts (the demo's development IdP, whose host is
  in ``identity.insecure_idp_hosts``) so that a positive registration can actually succeed;
  the defaults name a closed loopback port, which the request-forgery guard refuses without
  any traffic. Non-string values are left alone, so type errors are still fuzzed.
* The fixed ``{name}`` of PUT would make every registration after the first a replacement
  (200); that is fine, both 200 and 201 are documented.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

IDP_PATH = "/admin/v1/tenants/{t}/idps/{name}"
SAFE_DISCOVERY_URL = "https://127.0.0.1:9/.well-known/openid-configuration"
SAFE_JWKS_URI = "https://127.0.0.1:9/jwks.json"


def _replacements() -> dict[str, str]:
    return {
        "discovery_url": os.environ.get("GATEHOUSE_ST_DISCOVERY_URL") or SAFE_DISCOVERY_URL,
        "jwks_uri": os.environ.get("GATEHOUSE_ST_JWKS_URI") or SAFE_JWKS_URI,
    }


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    operation = case.operation
    if operation.method.upper() != "PUT" or operation.path != IDP_PATH:
        return
    body = case.body
    if not isinstance(body, dict):
        return
    for field, url in _replacements().items():
        if isinstance(body.get(field), str):
            body[field] = url
