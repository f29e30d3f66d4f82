"""The server side of an NTLM (NTLMv2) handshake, built on pyspnego's NTLM message and crypto code.

pyspnego's own acceptor reads passwords from a file named by a process-wide environment variable,
which cannot serve several simulators with different directories in one process; this acceptor takes
a password lookup instead. Like a hardened IIS it accepts only NTLMv2 responses, and when the
connection is TLS it checks the channel binding (Extended Protection) if the client sent one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from spnego._ntlm_raw.crypto import compute_response_v2, md5, ntowfv1, ntowfv2
from spnego._ntlm_raw.messages import (
    Authenticate,
    AvId,
    Challenge,
    FileTime,
    Negotiate,
    NegotiateFlags,
    NTClientChallengeV2,
    TargetInfo,
)
from spnego.channel_bindings import GssChannelBindings


class NtlmError(Exception):
    """The client's NTLM token is malformed or its response does not verify."""


class NtlmAcceptor:
    """One connection's NTLM handshake: Negotiate -> Challenge, then Authenticate -> user name."""

    def __init__(self, domain: str, cert_hash: bytes | None = None) -> None:
        self._domain = domain
        self._cert_hash = cert_hash
        self._challenge: Challenge | None = None

    def challenge(self, negotiate_token: bytes) -> bytes:
        """Answer the client's Negotiate message with a Challenge."""
        try:
            negotiate = Negotiate.unpack(negotiate_token)
        except Exception as exc:
            raise NtlmError("malformed NTLM Negotiate message") from exc
        flags = (
            negotiate.flags
            | NegotiateFlags.request_target
            | NegotiateFlags.ntlm
            | NegotiateFlags.always_sign
            | NegotiateFlags.target_info
            | NegotiateFlags.target_type_domain
        )
        flags = flags & ~NegotiateFlags.oem if flags & NegotiateFlags.unicode else flags
        host = socket.gethostname().split(".")[0].upper()
        info = TargetInfo()
        info[AvId.nb_computer_name] = host
        info[AvId.nb_domain_name] = self._domain
        info[AvId.dns_computer_name] = host.lower()
        info[AvId.timestamp] = FileTime.now()
        self._challenge = Challenge(flags, os.urandom(8), target_name=self._domain, target_info=info)
        return bytes(self._challenge.pack())

    def authenticate(self, token: bytes, password_of: Callable[[str, str], str | None]) -> tuple[str, str]:
        """Verify the Authenticate message; return (domain, user). ``password_of(domain, user)`` looks
        the password up (None for an unknown user)."""
        if self._challenge is None:
            raise NtlmError("NTLM Authenticate message without a preceding Negotiate")
        try:
            auth = Authenticate.unpack(token)
        except Exception as exc:
            raise NtlmError("malformed NTLM Authenticate message") from exc
        user, domain = auth.user_name or "", auth.domain_name or ""
        response = auth.nt_challenge_response or b""
        if not user or len(response) <= 24:
            raise NtlmError("only NTLMv2 authentication is accepted")
        password = password_of(domain, user)
        if password is None:
            raise NtlmError(f"unknown user {domain}\\{user}")
        client = NTClientChallengeV2.unpack(response[16:])
        expected, _, _ = compute_response_v2(
            ntowfv2(user, ntowfv1(password), domain),
            self._challenge.server_challenge,
            client.challenge_from_client,
            client.time_stamp,
            client.av_pairs,
        )
        if expected != response:
            raise NtlmError(f"wrong password for {domain}\\{user}")
        self._check_binding(client.av_pairs)
        return domain, user

    def _check_binding(self, av_pairs: TargetInfo) -> None:
        sent = av_pairs.get(AvId.channel_bindings)
        if self._cert_hash is None or sent is None or sent == b"\x00" * 16:
            return
        expected = md5(GssChannelBindings(application_data=b"tls-server-end-point:" + self._cert_hash).pack())
        if sent != expected:
            raise NtlmError("channel binding does not match this server's certificate")
