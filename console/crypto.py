"""Encryption at rest for cluster credentials (kubeconfigs, Ceph keyrings).

The key comes from CONSOLE_ENCRYPTION_KEY when set (a Fernet key), else it is derived
from SECRET_KEY, so rotating SECRET_KEY needs re-encryption: set
CONSOLE_ENCRYPTION_KEY in production to decouple them.
"""

import base64
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["encrypt", "decrypt", "InvalidToken"]


@lru_cache(maxsize=1)
def _fernet():
    explicit = os.environ.get("CONSOLE_ENCRYPTION_KEY", "").strip()
    if explicit:
        return Fernet(explicit.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"caas-console", info=b"credentials").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(text):
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token):
    return _fernet().decrypt(token.encode()).decode()
