"""--stack NAME: a deployed stack's tables, queues and secret names, from its Outputs (template.yaml).

One CloudFormation call per command (State builds the runtime once); names given by --stack win over
the environment's CAMPAIGNS_TABLE and the others.
"""

from ..repositories.stacks import StackNotFound, stack_outputs
from .errors import EXIT_NOT_FOUND, CommandFailed

# Stack output → the Config field it fills. Other outputs are ignored (a newer template may add some).
OUTPUT_FIELDS = {
    "CampaignsTableName": "campaigns_table",
    "SessionsTableName": "sessions_table",
    "SentEventsTableName": "sent_events_table",
    "DeliveryQueueUrl": "delivery_queue_url",
    "DeadLetterQueueUrl": "dead_letter_queue_url",
    "CampaignSecretPrefix": "secret_prefix",
    "StripeSecretName": "stripe_secret_name",
    "HealthTableName": "health_table",
    "AuditTableName": "audit_table",
}


def config_from_stack(stack_name: str) -> dict[str, str]:
    try:
        outputs = stack_outputs(stack_name)
    except StackNotFound as exc:
        raise CommandFailed(EXIT_NOT_FOUND, "stack_not_found",
                            f"{exc} (check --stack, --region and --profile)") from None
    missing = [name for name in OUTPUT_FIELDS if name not in outputs]
    if missing:
        raise CommandFailed(EXIT_NOT_FOUND, "stack_outputs_missing",
                            f"stack {stack_name!r} has no output {', '.join(missing)}: it was deployed from an older "
                            "template.yaml, redeploy it (sam build && sam deploy)")
    return {field: outputs[name] for name, field in OUTPUT_FIELDS.items()}
