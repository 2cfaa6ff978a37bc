"""DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554): SCRAM users kept
as Kafka keeps them, in the ``users/<name>`` entity configs of the metadata store
(ZooKeeper's ``/config/users/<name>`` in a cluster)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.protocol.api_versions import (
    ALTER_USER_SCRAM_CREDENTIALS_KEY,
    DESCRIBE_USER_SCRAM_CREDENTIALS_KEY,
)
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.security.client_quotas import desanitize, sanitize
from odradek.security.scram import (
    ScramMechanism,
    credential_from_salted_password,
    format_credential,
    parse_credential,
)
from odradek.server.authorization import authorize
from odradek.server.collaborators import Authorizing, HasMetadataStore

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class ScramCredentialsCollaborators(Authorizing, HasMetadataStore, Protocol):
    """What DescribeUserScramCredentials and AlterUserScramCredentials read from the broker."""


ZERO = timedelta(0)
_MECHANISMS = {m.mechanism_name for m in ScramMechanism}
Failure = tuple[ErrorCode, str]


def scram_credentials_of(
    broker: ScramCredentialsCollaborators, user: str
) -> dict[ScramMechanism, int]:
    """A user's SCRAM mechanisms and their iterations."""
    configs = broker.metadata_store.entity_configs.get(f"users/{sanitize(user)}", {})
    found = {}
    for mechanism in ScramMechanism:
        text = configs.get(mechanism.mechanism_name)
        if text is not None:
            found[mechanism] = parse_credential(text).iterations
    return found


def handle_describe_user_scram_credentials(
    broker: ScramCredentialsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    module = response_module(DESCRIBE_USER_SCRAM_CREDENTIALS_KEY, ctx.header.api_version)

    def response(error: ErrorCode, message: str | None, results: tuple[Any, ...]) -> Any:
        return build(
            module.DescribeUserScramCredentialsResponse,
            throttle_time=ZERO,
            error_code=error,
            error_message=message,
            results=results,
        )

    if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return response(ErrorCode.cluster_authorization_failed, None, ())
    if request.users:
        names = [u.name for u in request.users]
    else:
        names = sorted(
            desanitize(path[len("users/") :])
            for path, configs in broker.metadata_store.entity_configs.items()
            if path.startswith("users/")
            and "/" not in path[len("users/") :]
            and _MECHANISMS & set(configs)
        )
    counts = Counter(names)
    results = []
    for name in dict.fromkeys(names):
        error, message, infos = ErrorCode.none, None, ()
        if counts[name] > 1:
            error = ErrorCode.duplicate_resource
            message = (
                "Cannot describe SCRAM credentials for the same user twice in a single request"
            )
        elif not (credentials := scram_credentials_of(broker, name)):
            error = ErrorCode.resource_not_found
            message = "Attempt to describe a user credential that does not exist"
        else:
            infos = tuple(
                build(module.CredentialInfo, mechanism=m.type, iterations=iterations)
                for m, iterations in sorted(credentials.items(), key=lambda i: i[0].type)
            )
        results.append(
            build(
                module.DescribeUserScramCredentialsResult,
                user=name,
                error_code=error,
                error_message=message,
                credential_infos=infos,
            )
        )
    return response(ErrorCode.none, None, tuple(results))


async def handle_alter_user_scram_credentials(
    broker: ScramCredentialsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    module = response_module(ALTER_USER_SCRAM_CREDENTIALS_KEY, ctx.header.api_version)
    alterations = [*request.deletions, *request.upsertions]
    users = list(dict.fromkeys(a.name for a in alterations))
    failures: dict[str, Failure] = {}
    if not authorize(ctx, broker, AclOperation.ALTER, ResourceType.CLUSTER):
        failures = dict.fromkeys(users, (ErrorCode.cluster_authorization_failed, ""))
    else:
        failures = _validate(broker, request)
    for user in users:
        if user in failures:
            continue
        path = f"users/{sanitize(user)}"
        configs = dict(broker.metadata_store.entity_configs.get(path, {}))
        for deletion in request.deletions:
            if deletion.name == user:
                configs.pop(ScramMechanism(deletion.mechanism).mechanism_name, None)
        for upsertion in request.upsertions:
            if upsertion.name == user:
                mechanism = ScramMechanism(upsertion.mechanism)
                credential = credential_from_salted_password(
                    mechanism, upsertion.salted_password, upsertion.salt, upsertion.iterations
                )
                configs[mechanism.mechanism_name] = format_credential(credential)
        await broker.metadata_store.set_entity_configs_async(path, configs)
    results = tuple(
        build(
            module.AlterUserScramCredentialsResult,
            user=user,
            error_code=failures.get(user, (ErrorCode.none, ""))[0],
            error_message=failures.get(user, (ErrorCode.none, ""))[1] or None,
        )
        for user in users
    )
    return build(module.AlterUserScramCredentialsResponse, throttle_time=ZERO, results=results)


def _validate(broker: ScramCredentialsCollaborators, request: Any) -> dict[str, Failure]:
    """Kafka's checks, per user: the first failing alteration fails all of that user's."""
    failures: dict[str, Failure] = {}
    seen: Counter[tuple[str, int]] = Counter(
        (a.name, a.mechanism) for a in (*request.deletions, *request.upsertions)
    )
    for alteration in (*request.deletions, *request.upsertions):
        failure = _check(broker, alteration, seen[(alteration.name, alteration.mechanism)])
        if failure is not None:
            failures.setdefault(alteration.name, failure)
    return failures


def _check(broker: ScramCredentialsCollaborators, alteration: Any, times: int) -> Failure | None:
    if not alteration.name:
        return ErrorCode.unacceptable_credential, "Username must not be empty"
    if times > 1:
        return (
            ErrorCode.duplicate_resource,
            "A user credential cannot be altered twice in the same request",
        )
    try:
        mechanism = ScramMechanism(alteration.mechanism)
    except ValueError:
        return ErrorCode.unsupported_sasl_mechanism, "Unknown SCRAM mechanism"
    if not hasattr(alteration, "salted_password"):  # a deletion
        if mechanism not in scram_credentials_of(broker, alteration.name):
            return (
                ErrorCode.resource_not_found,
                "Attempt to delete a user credential that does not exist",
            )
        return None
    if alteration.iterations < mechanism.min_iterations:
        return ErrorCode.unacceptable_credential, "Too few iterations"
    if alteration.iterations > mechanism.max_iterations:
        return ErrorCode.unacceptable_credential, "Too many iterations"
    if not alteration.salt or not alteration.salted_password:
        return ErrorCode.unacceptable_credential, "Salt and salted password must not be empty"
    return None
