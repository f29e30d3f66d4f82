"""Configuration: profiles, deployments, mailbox bindings and settings; loading, validation, publishing.

Public API::

    load_profiles(dir, credentials=None) -> ProfileSet     raises ProfileValidationError (every problem)
    ProfileSet: profiles, deployments, users, queues, forward_mailboxes, settings;
                mailboxes() -> [MailboxAssignment], credential_names(), profile_name(m, direction),
                deployment_name(m), credential_for(m, profile_name),
                default_assignment(role, address, deployment)   (a CRM mailbox no file binds)
    Profile, Deployment (EmbeddedCrm | DynamicsCrm), MailboxBinding, ForwardMailbox, SystemSettings,
    Acknowledgement, SharedLogging, IncomingSettings (incoming options; see config/incoming.py),
    ProfileFile (one TOML file; its JSON Schema is `email-router profiles schema`)
    enums: Direction, ServerType, AuthMethod, CredentialSource, UserType, AccessType, MailboxRole
    check_profile_set(profile_set, locate, credentials=None) -> [Problem]
    to_toml(model), write_profile_file(path, model, header="")

    publish(home, profiles_dir, key=None, clock=None) -> version
    rollback(home, version, key=None, clock=None) -> new version
    load_published(home, version=None, key=None) -> PublishedConfig
        .version .published_at .source .rolled_back_from .profiles .credential_kinds
        .credential(name) -> Credential   .secret_values() -> [str]
    latest_version(home) -> int | None;  published_versions(home) -> [int]
    list_published(home, key=None) -> [PublishedSummary]
    PublishedResealer(home): pass to router.vault.rotate_key(home, also=[...])
"""

from router.config.bindings import ForwardMailbox, MailboxBinding
from router.config.common import AuthMethod, OAuthSettings, Timeouts, Tls
from router.config.deployment import Deployment, DynamicsCrm, EmbeddedCrm
from router.config.incoming import Acknowledgement, IncomingSettings, OversizeAction, SharedLogging
from router.config.loader import load_profiles, profile_files
from router.config.profile import AccessType, CredentialSource, Direction, Profile, ServerType, UserType
from router.config.profileset import MailboxAssignment, MailboxRole, ProfileFile, ProfileSet
from router.config.publish import PublishedResealer, PublishedSummary, list_published, publish, rollback
from router.config.published import (
    PublishedConfig,
    latest_version,
    load_published,
    published_path,
    published_versions,
)
from router.config.rules import check_profile_set
from router.config.settings import SystemSettings
from router.config.writer import to_toml, write_profile_file

__all__ = [
    "AccessType",
    "Acknowledgement",
    "AuthMethod",
    "CredentialSource",
    "Deployment",
    "Direction",
    "DynamicsCrm",
    "EmbeddedCrm",
    "ForwardMailbox",
    "IncomingSettings",
    "MailboxAssignment",
    "MailboxBinding",
    "MailboxRole",
    "OAuthSettings",
    "OversizeAction",
    "Profile",
    "ProfileFile",
    "ProfileSet",
    "PublishedConfig",
    "PublishedResealer",
    "PublishedSummary",
    "ServerType",
    "SharedLogging",
    "SystemSettings",
    "Timeouts",
    "Tls",
    "UserType",
    "check_profile_set",
    "latest_version",
    "list_published",
    "load_profiles",
    "load_published",
    "profile_files",
    "publish",
    "published_path",
    "published_versions",
    "rollback",
    "to_toml",
    "write_profile_file",
]
