"""Encryption of the Slack tokens ticketbot stores (`cryptography`'s Fernet: AES-128-CBC with
an HMAC-SHA256, so a token altered at rest is refused, not decrypted to garbage).

`TOKEN_ENCRYPTION_KEYS` holds one or more keys, newest first: new tokens are encrypted with the
first, and a token encrypted with any of them is read. Rotating the key is: put a new key
first, keep the old one after it, run `ticketbot rotate-token-key` (every stored token is
encrypted again with the new key), then drop the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenCipherError(Exception):
    """A stored token cannot be read with any configured key (a key was dropped too early,
    or the ciphertext was altered)."""


class TokenCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @staticmethod
    def new_key() -> str:
        """A fresh key, as `TOKEN_ENCRYPTION_KEYS` takes it (32 random bytes, base64)."""
        return Fernet.generate_key().decode()

    @staticmethod
    def check_key(key: str) -> None:
        """Raises ValueError, with a message fit for a settings error, if `key` is not one."""
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ValueError(
                "each key must be 32 url-safe base64-encoded bytes; make one with"
                " `ticketbot new-token-key`"
            ) from None

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            return self._fernet.decrypt(encrypted.encode()).decode()
        except InvalidToken:
            raise TokenCipherError("a stored token cannot be decrypted with any key") from None

    def reencrypt(self, encrypted: str) -> str:
        """The same token, encrypted with the first (newest) key."""
        try:
            return self._fernet.rotate(encrypted.encode()).decode()
        except InvalidToken:
            raise TokenCipherError("a stored token cannot be decrypted with any key") from None
