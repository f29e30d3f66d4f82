"""Open the CrmGateway a deployment names: the embedded SQLite CRM, or Dynamics over its Web API.

The deployment's credential comes from the published configuration (sealed at rest), never from the
profiles directory, so the service reaches the CRM exactly as the admin published it.
"""

from __future__ import annotations

from pathlib import Path

from router.clock import Clock
from router.config import Deployment, DynamicsCrm, EmbeddedCrm
from router.config.common import AuthMethod
from router.config.published import PublishedConfig
from router.crm.dynamics import DynamicsGateway, DynamicsSettings, NtlmCredentials, OAuthCredentials
from router.crm.embedded import EmbeddedCrm as EmbeddedDatabase
from router.crm.embedded import EmbeddedGateway
from router.crm.gateway import CrmGateway
from router.errors import ConfigError
from router.home import Home
from router.vault.credentials import OAuthClientSecretCredential, PasswordCredential


def deployment_of(config: PublishedConfig, name: str) -> Deployment:
    """Return deployment ``name`` of ``config``; ConfigError naming it if it is not there."""
    deployment = config.profiles.deployments.get(name)
    if deployment is None:
        raise ConfigError(f"published version {config.version} has no deployment {name!r}",
                          hint="bind the mailbox to an existing deployment and publish again")
    return deployment


def open_gateway(config: PublishedConfig, deployment_name: str, home: Home, clock: Clock) -> CrmGateway:
    """Open the gateway of ``deployment_name``; the caller closes it."""
    crm = deployment_of(config, deployment_name).crm
    if isinstance(crm, EmbeddedCrm):
        database = EmbeddedDatabase(crm.database_path(home), clock=clock)
        return EmbeddedGateway(database, crm.service_account, owns_crm=True)
    return DynamicsGateway(dynamics_settings(config, crm), clock=clock)


def dynamics_settings(config: PublishedConfig, crm: DynamicsCrm) -> DynamicsSettings:
    """The adapter's settings for a Dynamics deployment, with its published credential."""
    credential = config.credential(crm.credential)
    verify: bool | str = crm.tls.verify
    if crm.tls.verify and crm.tls.ca_bundle is not None:
        bundle = crm.tls.ca_bundle
        verify = str(bundle if bundle.is_absolute() else Path(config.source) / bundle)
    return DynamicsSettings(base_url=str(crm.url), credentials=_credentials(crm, credential),
                            verify=verify, timeout=crm.timeouts.read_seconds,
                            connect_timeout=crm.timeouts.connect_seconds,
                            max_response_bytes=config.profiles.settings.max_message_response_mb * 1024 * 1024)


def _credentials(crm: DynamicsCrm, credential: object) -> NtlmCredentials | OAuthCredentials:
    if crm.auth is AuthMethod.OAUTH:
        if crm.oauth is None or not isinstance(credential, OAuthClientSecretCredential):
            raise ConfigError(f"credential {crm.credential!r} of the Dynamics deployment must be an "
                              "oauth_client_secret credential",
                              hint=f"run `email-router credentials set {crm.credential} --kind "
                              "oauth_client_secret`, then publish")
        return OAuthCredentials(token_url=crm.oauth.token_url(), client_id=crm.oauth.client_id,
                                client_secret=credential.client_secret, scope=crm.oauth.scope)
    if crm.auth is AuthMethod.BASIC:
        raise ConfigError("the Dynamics Web API on-premises signs in with Windows authentication or OAuth",
                          hint='set auth = "ntlm" (or "oauth") on the deployment, then publish')
    if not isinstance(credential, PasswordCredential):
        raise ConfigError(f"credential {crm.credential!r} of the Dynamics deployment must be a password "
                          "credential",
                          hint=f"run `email-router credentials set {crm.credential}`, then publish")
    return NtlmCredentials(username=credential.username, password=credential.password)
