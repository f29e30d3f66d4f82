"""Key rotation: re-encrypt the vault and every other sealed file with a new home key.

Everything is read and verified with the old key first, so a broken file stops the rotation before
anything changes. The new key waits in ``key.next`` while files are rewritten, then replaces ``key``.
If the rotation is interrupted, loading the key refuses to guess and running ``rotate-key`` again
finishes the job: each file is opened with whichever of the two keys it names. The rotation holds
the vault lock, which ``publish`` takes too, so no version is ever sealed with a key being retired.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Protocol

from router.errors import UsageError
from router.home import Home
from router.vault.atomic import fsync_dir
from router.vault.key import ENV_KEY, VaultKey, pending_key_file, read_key_file, write_new_key_file
from router.vault.store import read_vault_file, vault_key_id, vault_lock, write_vault_file

log = logging.getLogger(__name__)

Rewriter = Callable[[VaultKey], None]
"""Writes already-verified content again, sealed with the new key it is given."""


class Resealable(Protocol):
    """Files besides the vault that are protected with keys derived from the home key."""

    def prepare_reseal(self, keys: Sequence[VaultKey]) -> Rewriter:
        """Read and verify every file with whichever of ``keys`` it names; return their rewriter."""
        ...


def pick_key(key_id: str | None, keys: Sequence[VaultKey]) -> VaultKey:
    """Return the key among ``keys`` named by ``key_id``, else the first (whose use then fails clearly)."""
    return next((k for k in keys if k.key_id == key_id), keys[0])


def rotate_key(home: Home, *, also: Sequence[Resealable] = ()) -> VaultKey:
    """Replace the home key with a new one, re-encrypting the vault and every ``also`` file; return it."""
    if os.environ.get(ENV_KEY, "").strip():
        raise UsageError(
            f"the key comes from ${ENV_KEY}, which rotate-key cannot change",
            hint=f"write the key to {home.key_file} (mode 0600), unset {ENV_KEY}, run rotate-key, "
            "then move the new key from that file into your secret store",
        )
    # The key must be there before the lock is taken: a wrong home gets "run init", not a lock file.
    read_key_file(home.key_file)
    with vault_lock(home.vault_file):
        return _rotate(home, also)


def _rotate(home: Home, also: Sequence[Resealable]) -> VaultKey:
    pending = pending_key_file(home)
    old = read_key_file(home.key_file)
    new = read_key_file(pending) if pending.exists() else VaultKey.generate()
    keys = [old, new]
    credentials = read_vault_file(home.vault_file, pick_key(vault_key_id(home.vault_file), keys))
    rewriters = [item.prepare_reseal(keys) for item in also]
    if not pending.exists():
        write_new_key_file(pending, new)
    if home.vault_file.exists():
        write_vault_file(home.vault_file, new, credentials)
    for rewrite in rewriters:
        rewrite(new)
    os.replace(pending, home.key_file)
    fsync_dir(home.key_file.parent)
    log.debug("home key rotated: %s replaced by %s", old.key_id, new.key_id)
    return VaultKey(new.secret, source=str(home.key_file))
