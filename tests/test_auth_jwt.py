"""JWTAuthenticator against real tokens made with PyJWT and keys made with ``cryptography``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from grpc_errgen import aio
from grpc_errgen.auth import JWTAuthenticator

SECRET = "a-shared-secret-that-is-long-enough-for-hs256"
METHOD = "/authjwt.S/M"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def private_pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 60, **extra}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(
    header: dict[str, Any], payload: dict[str, Any], sign: bytes | None
) -> str:
    """A token PyJWT would refuse to make: ``alg: none`` (sign None) or HMAC keyed with ``sign``."""
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    )
    signature = (
        ""
        if sign is None
        else b64(hmac.new(sign, signing_input.encode(), hashlib.sha256).digest())
    )
    return f"{signing_input}.{signature}"


def test_hs256_subject_scopes_claims() -> None:
    token = jwt.encode(
        claims(scope="read write", tenant="t1"), SECRET, algorithm="HS256"
    )
    principal = JWTAuthenticator(SECRET)(token, METHOD)
    assert principal.subject == "alice"
    assert principal.scopes == frozenset({"read", "write"})
    assert principal.claims["tenant"] == "t1"


def test_scp_list_and_scope_string_are_merged() -> None:
    token = jwt.encode(claims(scp=["a", "b"], scope="c"), SECRET, algorithm="HS256")
    assert JWTAuthenticator(SECRET)(token, METHOD).scopes == frozenset({"a", "b", "c"})


def test_no_scopes_is_empty() -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert JWTAuthenticator(SECRET)(token, METHOD).scopes == frozenset()


@pytest.mark.parametrize(
    "payload",
    [{"scope": 5}, {"scp": [1, 2]}, {"scp": {"a": 1}}],
)
def test_malformed_scope_claims_refused(payload: dict[str, Any]) -> None:
    token = jwt.encode(claims(**payload), SECRET, algorithm="HS256")
    with pytest.raises(ValueError):
        JWTAuthenticator(SECRET)(token, METHOD)


def test_missing_or_non_string_subject_refused() -> None:
    now = int(time.time())
    with pytest.raises(jwt.MissingRequiredClaimError):
        JWTAuthenticator(SECRET)(
            jwt.encode({"exp": now + 60}, SECRET, algorithm="HS256"), METHOD
        )
    # PyJWT itself insists that sub is a string.
    with pytest.raises(jwt.InvalidTokenError):
        JWTAuthenticator(SECRET)(
            jwt.encode(claims(sub=12), SECRET, algorithm="HS256"), METHOD
        )


def test_expired_refused_within_leeway_accepted() -> None:
    now = int(time.time())
    expired = jwt.encode({"sub": "alice", "exp": now - 60}, SECRET, algorithm="HS256")
    with pytest.raises(jwt.ExpiredSignatureError):
        JWTAuthenticator(SECRET)(expired, METHOD)
    just_expired = jwt.encode(
        {"sub": "alice", "exp": now - 3}, SECRET, algorithm="HS256"
    )
    assert JWTAuthenticator(SECRET)(just_expired, METHOD).subject == "alice"
    with pytest.raises(jwt.ExpiredSignatureError):
        JWTAuthenticator(SECRET, leeway=0)(just_expired, METHOD)


def test_not_yet_valid_refused() -> None:
    token = jwt.encode(claims(nbf=int(time.time()) + 120), SECRET, algorithm="HS256")
    with pytest.raises(jwt.ImmatureSignatureError):
        JWTAuthenticator(SECRET)(token, METHOD)


def test_bad_signature_refused() -> None:
    token = jwt.encode(
        claims(), "another-secret-also-long-enough-for-hs256!", algorithm="HS256"
    )
    with pytest.raises(jwt.InvalidSignatureError):
        JWTAuthenticator(SECRET)(token, METHOD)
    tampered = jwt.encode(claims(scope="read"), SECRET, algorithm="HS256")
    header, _payload, signature = tampered.split(".")
    escalated = b64(json.dumps(claims(scope="admin")).encode())
    with pytest.raises(jwt.InvalidSignatureError):
        JWTAuthenticator(SECRET)(f"{header}.{escalated}.{signature}", METHOD)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
def test_garbage_refused(garbage: str) -> None:
    with pytest.raises(jwt.InvalidTokenError):
        JWTAuthenticator(SECRET)(garbage, METHOD)


def test_audience_and_issuer() -> None:
    auth = JWTAuthenticator(SECRET, audience="orders", issuer="https://idp.example")
    good = jwt.encode(
        claims(aud="orders", iss="https://idp.example"), SECRET, algorithm="HS256"
    )
    assert auth(good, METHOD).subject == "alice"
    for bad in (
        claims(aud="billing", iss="https://idp.example"),
        claims(aud="orders", iss="https://evil.example"),
        claims(iss="https://idp.example"),
        claims(aud="orders"),
    ):
        with pytest.raises(jwt.InvalidTokenError):
            auth(jwt.encode(bad, SECRET, algorithm="HS256"), METHOD)
    # A token meant for some audience is refused where none is configured.
    with pytest.raises(jwt.InvalidAudienceError):
        JWTAuthenticator(SECRET)(
            jwt.encode(claims(aud="orders"), SECRET, algorithm="HS256"), METHOD
        )
    assert (
        JWTAuthenticator(SECRET, audience=["a", "orders"])(good, METHOD).subject
        == "alice"
    )


def test_alg_none_refused() -> None:
    token = handmade({"alg": "none", "typ": "JWT"}, claims(), None)
    with pytest.raises(jwt.InvalidTokenError):
        JWTAuthenticator(SECRET)(token, METHOD)
    with pytest.raises(ValueError, match="none"):
        JWTAuthenticator(SECRET, algorithms=("none",))
    with pytest.raises(ValueError, match="none"):
        JWTAuthenticator(SECRET, algorithms=("HS256", "None"))


@pytest.mark.parametrize(
    ("key", "algorithm"), [(RSA_KEY, "RS256"), (RSA_KEY, "PS256"), (EC_KEY, "ES256")]
)
def test_public_key_algorithms(key: Any, algorithm: str) -> None:
    token = jwt.encode(claims(scp=["read"]), key, algorithm=algorithm)
    for verifying_key in (
        public_pem(key),
        public_pem(key).decode(),
        key.public_key(),
        key,
        private_pem(key),
    ):
        principal = JWTAuthenticator(verifying_key, algorithms=(algorithm,))(
            token, METHOD
        )
        assert principal.subject == "alice" and principal.scopes == frozenset({"read"})


def test_token_signed_by_another_key_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        JWTAuthenticator(public_pem(RSA_KEY), algorithms=("RS256",))(
            jwt.encode(claims(), other, algorithm="RS256"), METHOD
        )
    # An ES256 token where only RS256 is allowed: refused by algorithm, not by luck.
    with pytest.raises(jwt.InvalidAlgorithmError):
        JWTAuthenticator(public_pem(RSA_KEY), algorithms=("RS256",))(
            jwt.encode(claims(), EC_KEY, algorithm="ES256"), METHOD
        )


def test_algorithm_confusion_refused() -> None:
    """The classic attack: an HS256 token keyed with the server's RSA public key (which is public)."""
    pem = public_pem(RSA_KEY)
    forged = handmade({"alg": "HS256", "typ": "JWT"}, claims(scope="admin"), pem)
    with pytest.raises(jwt.InvalidAlgorithmError):
        JWTAuthenticator(pem, algorithms=("RS256",))(forged, METHOD)
    # Configurations that would make the attack work are refused up front.
    with pytest.raises(ValueError, match="confusion"):
        JWTAuthenticator(pem, algorithms=("HS256",))
    with pytest.raises(ValueError, match="mix"):
        JWTAuthenticator(pem, algorithms=("RS256", "HS256"))
    with pytest.raises(TypeError):
        JWTAuthenticator(RSA_KEY.public_key(), algorithms=("HS256",))


def test_empty_secret_and_no_algorithms_refused() -> None:
    with pytest.raises(ValueError):
        JWTAuthenticator("")
    with pytest.raises(ValueError):
        JWTAuthenticator(SECRET, algorithms=())


@pytest.mark.parametrize(
    "algorithm, shortest", [("HS256", 32), ("HS384", 48), ("HS512", 64)]
)
def test_hmac_secret_shorter_than_the_hash_is_refused(
    algorithm: str, shortest: int
) -> None:
    """RFC 7518 section 3.2: a secret shorter than the hash output can be guessed offline from one token."""
    with pytest.raises(ValueError, match=f"at least {shortest} bytes"):
        JWTAuthenticator("s" * (shortest - 1), algorithms=(algorithm,))
    with pytest.raises(ValueError, match=f"at least {shortest} bytes"):
        aio.auth.JWTAuthenticator(b"s" * (shortest - 1), algorithms=(algorithm,))
    token = jwt.encode(claims(), "s" * shortest, algorithm=algorithm)
    assert JWTAuthenticator("s" * shortest, algorithms=(algorithm,))(token, METHOD)


async def test_aio_variant_is_awaited() -> None:
    token = jwt.encode(claims(scope="read"), SECRET, algorithm="HS256")
    principal = await aio.auth.JWTAuthenticator(SECRET)(token, METHOD)
    assert principal.subject == "alice" and principal.scopes == frozenset({"read"})
    with pytest.raises(jwt.InvalidSignatureError):
        await aio.auth.JWTAuthenticator("wrong-secret-but-long-enough-for-hs256-xx")(
            token, METHOD
        )


@pytest.mark.parametrize(
    "der",
    [
        RSA_KEY.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        ),
        RSA_KEY.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        ),
        EC_KEY.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        ),
        RSA_KEY.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    ],
    ids=["rsa-spki", "rsa-pkcs1", "ec-spki", "rsa-private"],
)
def test_der_key_refused_as_hmac_secret(der: bytes) -> None:
    with pytest.raises(ValueError, match="algorithm confusion"):
        JWTAuthenticator(der, algorithms=("HS256",))


def test_algorithm_names_are_normalised_or_refused_clearly() -> None:
    secret = SECRET * 2  # HS512 needs 64 bytes
    token = jwt.encode(claims(scope="read"), secret, algorithm="HS256")
    auth = JWTAuthenticator(secret, algorithms=("hs256", "Hs512"))
    assert auth.algorithms == ("HS256", "HS512")
    assert auth(token, METHOD).scopes == frozenset({"read"})
    assert JWTAuthenticator(public_pem(RSA_KEY), algorithms=("rs256",)).algorithms == (
        "RS256",
    )
    with pytest.raises(ValueError, match="does not know the algorithm 'HS257'"):
        JWTAuthenticator(SECRET, algorithms=("HS257",))
    with pytest.raises(TypeError, match="not a bare str"):
        JWTAuthenticator(SECRET, algorithms="HS256")
    with pytest.raises(ValueError, match="cannot mix"):
        JWTAuthenticator(SECRET, algorithms=("hs256", "rs256"))
