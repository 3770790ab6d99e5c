"""Reference verification of a launch token, as an external mini-app does it (depends on PyJWT only;
copy it into your service). The same steps work with any JOSE library:

1. fetch the municipality's JWKS from `<iss>miniapps/keys/` (cache it; refetch on an unknown kid),
2. verify the ES256 signature with the key named by the token's `kid`,
3. check `iss` is the municipality you expect, `aud` is your mini-app id, `exp`/`nbf`,
4. refuse a `jti` you have seen before (keep each one until its `exp`): that is a replay.

    import jwt
    jwks = jwt.PyJWKClient("https://saga.example.jp/api/v1/miniapps/keys/")
    verifier = LaunchTokenVerifier(issuer="https://saga.example.jp/api/v1/", audience="my-miniapp")
    claims = verifier.verify(token, jwks.get_signing_key_from_jwt(token).key)
"""
from __future__ import annotations

import threading
import time

import jwt

REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]


class ReplayedTokenError(jwt.InvalidTokenError):
    """The token's jti was already used."""


class JtiMemory:
    """Remembers token ids until they expire (one process; use a shared store such as Redis SET NX
    with an expiry when the service runs on several processes)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            for stale in [key for key, exp in self._seen.items() if exp < now]:
                del self._seen[stale]
            if jti in self._seen:
                return False
            self._seen[jti] = expires_at
            return True


class LaunchTokenVerifier:
    def __init__(self, *, issuer: str, audience: str, leeway_seconds: int = 30, jti_memory: JtiMemory | None = None):
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.jti_memory = jti_memory or JtiMemory()

    def verify(self, token: str, key) -> dict:
        """Returns the claims, or raises a jwt.InvalidTokenError subclass (ReplayedTokenError on reuse)."""
        claims = jwt.decode(token, key, algorithms=["ES256"], audience=self.audience, issuer=self.issuer,
                            leeway=self.leeway_seconds, options={"require": REQUIRED_CLAIMS})
        if not self.jti_memory.first_use(claims["jti"], claims["exp"] + self.leeway_seconds):
            raise ReplayedTokenError(f"launch token {claims['jti']} was already used")
        return claims

    def verify_with_jwks(self, token: str, jwks: dict) -> dict:
        """Picks the key by the token's kid from a JWKS document (a dict as served at <iss>miniapps/keys/)."""
        kid = jwt.get_unverified_header(token).get("kid")
        keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}
        if kid not in keys:
            raise jwt.InvalidTokenError(f"no published key with kid {kid!r}")
        return self.verify(token, keys[kid].key)
