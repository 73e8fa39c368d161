import hashlib

from zellify_tiktok.hashing import hash_email, hash_external_id, hash_phone, is_valid_email, normalize_phone


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_email_is_trimmed_and_lowercased_before_hashing():
    assert hash_email("  Ann@Example.COM ") == sha("ann@example.com")


def test_existing_sha256_passes_through_unchanged():
    digest = sha("ann@example.com")
    assert hash_email(digest) == digest
    assert hash_external_id(digest.upper()) == digest


def test_external_id_normalised():
    assert hash_external_id(" Session-ABC ") == sha("session-abc")


def test_phone_is_e164_before_hashing():
    assert normalize_phone("+1 (555) 010-9999") == "+15550109999"
    assert hash_phone("+1 (555) 010-9999") == sha("+15550109999")


def test_email_validation():
    assert is_valid_email("ann@example.com")
    assert is_valid_email(sha("x"))
    for bad in ("", "ann", "ann@", "a b@example.com", "ann@example", "x" * 250 + "@example.com"):
        assert not is_valid_email(bad), bad


def test_an_address_with_a_lone_surrogate_is_invalid_not_a_crash():
    assert not is_valid_email("a\ud800@example.com")
