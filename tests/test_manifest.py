"""manifest.yml against Slack's own manifest schema (../shared/reference/slack-manifest-schema/, read
there, never copied): what Slack would refuse when the app is created from it, this refuses first."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT.parent / "shared" / "reference" / "slack-manifest-schema"


def schema_for(manifest: dict) -> dict:
    """As manifest.schema.json picks it: by _metadata.major_version, version 1 when absent."""
    version = (manifest.get("_metadata") or {}).get("major_version", 1)
    return json.loads((SCHEMAS / f"manifest.schema.{version}.0.0.json").read_text())


@pytest.fixture
def manifest() -> dict:
    if not SCHEMAS.is_dir():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMAS}")
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_the_manifest_is_valid_by_slacks_schema(manifest):
    jsonschema.validate(manifest, schema_for(manifest))


def test_the_schema_check_refuses_what_slack_refuses(manifest):
    broken = json.loads(json.dumps(manifest))
    broken["features"]["slash_commands"][0]["command"] = "mms"  # a command must start with /
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema_for(broken))


def test_the_bot_may_post_in_public_channels_it_was_not_invited_to(manifest):
    assert "chat:write.public" in manifest["oauth_config"]["scopes"]["bot"]


def test_the_loopback_slack_grants_exactly_the_scopes_the_manifest_asks_for(manifest):
    """users:read gives the sender's time zone; the fake refuses users.info without it, as Slack does."""
    from tests.fakes.slack import SCOPES

    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(SCOPES)


def test_the_send_mms_step_has_the_contracts_inputs_and_outputs(manifest):
    step = manifest["functions"]["send_mms"]
    types = {name: p["type"] for name, p in step["input_parameters"].items()}
    assert types == {
        "channel": "slack#/types/channel_id",
        "message": "string",
        "contacts": "string",
        "contacts_file": "slack#/types/file_id",
        "image": "slack#/types/file_id",
        "sender_id": "string",
        "sent_by": "slack#/types/user_id",
    }
    required = {name for name, p in step["input_parameters"].items() if p.get("is_required")}
    assert required == {"channel", "message", "sent_by"}
    outputs = {name: p["type"] for name, p in step["output_parameters"].items()}
    assert outputs == {"send_id": "string", "queued": "integer", "left_out": "integer", "outcome": "string"}
    assert step["title"] == "Send an MMS"
    settings = manifest["settings"]
    assert "function_executed" in settings["event_subscriptions"]["bot_events"]
    assert settings["org_deploy_enabled"] is True and settings["interactivity"]["is_enabled"] is True


def test_the_schema_check_covers_the_step(manifest):
    from bot.slack.steps import CALLBACK_ID

    assert CALLBACK_ID in manifest["functions"]  # the listener's callback id is the manifest's
    broken = json.loads(json.dumps(manifest))
    del broken["functions"]["send_mms"]["title"]  # Slack requires a step's title
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema_for(broken))
    broken = json.loads(json.dumps(manifest))
    del broken["functions"]["send_mms"]["input_parameters"]["message"]["type"]  # and every parameter's type
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema_for(broken))
