"""Provider token formats: credentials that announce themselves by their shape.

Each rule names the provider's documented token format. Identifiers that are not secrets
(AWS user and role ids, Stripe publishable keys) are deliberately absent.
"""

from __future__ import annotations

from migrator.discover.detectors.base import PatternDetector, PatternRule
from migrator.discover.models import Confidence

_B = r"(?<![A-Za-z0-9_\-+/])"  # start of a token: not inside a longer word
_E = r"(?![A-Za-z0-9_\-+/=])"  # end of a token
MEDIUM = Confidence.MEDIUM


def _token(rule: str, kind: str, body: str, prefixes: tuple[str, ...],
           confidence: Confidence = Confidence.HIGH) -> PatternRule:
    """A self-describing token: ``body`` is the whole token, starting with one of ``prefixes``."""
    return PatternRule(rule, kind, _B + body + _E, prefixes=prefixes, confidence=confidence)


def _in_context(rule: str, kind: str, pattern: str, needles: tuple[str, ...]) -> PatternRule:
    """A token known by what stands around it; group 1 is the secret."""
    return PatternRule(rule, kind, pattern, needles=needles, group=1)


RULES: tuple[PatternRule, ...] = (
    _token("aws-access-key-id", "aws_access_key_id", r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
           ("AKIA", "ASIA", "ABIA", "ACCA")),
    _in_context("aws-secret-access-key", "aws_secret_access_key",
                r"(?i)aws.{0,20}?secret.{0,20}?['\"=:\s]\s*['\"]?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])", ("aws",)),
    _token("github-token", "github_token", r"gh[pousr]_[A-Za-z0-9]{36,255}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    _token("github-fine-grained-token", "github_token", r"github_pat_[A-Za-z0-9_]{82}", ("github_pat_",)),
    _token("gitlab-token", "gitlab_token",
           r"(?:glpat|gldt|glrt|glptt|glcbt|glimt|glagent|glsoat|glffct)-[A-Za-z0-9_\-]{20,}",
           ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glimt-", "glagent-", "glsoat-", "glffct-")),
    _token("gitlab-runner-registration-token", "gitlab_token", r"GR1348941[A-Za-z0-9_\-]{20}", ("GR1348941",)),
    _token("slack-token", "slack_token", r"xox[abposer]-(?:\d+-)?[A-Za-z0-9-]{10,}",
           ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxe-", "xoxr-")),
    _in_context("slack-webhook", "slack_webhook",
                r"(https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/]{20,})", ("hooks.slack.com",)),
    _token("stripe-secret-key", "stripe_key", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
           ("sk_live_", "sk_test_", "rk_live_", "rk_test_")),
    _token("stripe-webhook-secret", "stripe_key", r"whsec_[A-Za-z0-9]{24,}", ("whsec_",)),
    _token("google-api-key", "google_api_key", r"AIza[0-9A-Za-z_\-]{35}", ("AIza",)),
    _token("google-oauth-client-secret", "google_oauth_secret", r"GOCSPX-[A-Za-z0-9_\-]{28}", ("GOCSPX-",)),
    _in_context("azure-storage-account-key", "azure_storage_key", r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)",
                ("accountkey=",)),
    _in_context("azure-ad-client-secret", "azure_client_secret",
                _B + r"([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})" + _E, ("q~",)),
    _in_context("azure-sas-signature", "azure_sas_token", r"(?i)[?&]sig=([A-Za-z0-9%+/=]{43,})", ("sig=",)),
    _token("jwt", "jwt", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", ("eyJ",), MEDIUM),
    _token("twilio-api-key", "twilio_key", r"SK[0-9a-f]{32}", ("SK",), MEDIUM),
    _token("sendgrid-api-key", "sendgrid_key", r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}", ("SG.",)),
    _token("mailgun-api-key", "mailgun_key", r"key-[0-9a-z]{32}", ("key-",), MEDIUM),
    _in_context("mailchimp-api-key", "mailchimp_key", _B + r"([0-9a-f]{32}-us[0-9]{1,2})" + _E, ("-us",)),
    _token("npm-token", "npm_token", r"npm_[A-Za-z0-9]{36}", ("npm_",)),
    _token("pypi-token", "pypi_token", r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}", ("pypi-AgEIcHlwaS5vcmc",)),
    _token("digitalocean-token", "digitalocean_token", r"do[opr]_v1_[a-f0-9]{64}", ("dop_v1_", "doo_v1_", "dor_v1_")),
    _token("shopify-token", "shopify_token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
           ("shpat_", "shpca_", "shppa_", "shpss_")),
    _token("square-token", "square_token", r"(?:sq0atp|sq0csp)-[A-Za-z0-9_\-]{22,60}", ("sq0atp-", "sq0csp-")),
    _in_context("telegram-bot-token", "telegram_token", _B + r"([0-9]{8,10}:AA[0-9A-Za-z_\-]{33})" + _E, (":aa",)),
    _in_context("discord-webhook", "discord_webhook",
                r"(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]{60,})",
                ("discord",)),
    _token("openai-api-key", "openai_key",
           r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}", ("sk-",)),
    _token("anthropic-api-key", "anthropic_key", r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{80,}", ("sk-ant-",)),
    _token("vault-token", "vault_token", r"hv[sbr]\.[A-Za-z0-9_\-]{24,}", ("hvs.", "hvb.", "hvr.")),
    _in_context("terraform-cloud-token", "terraform_token",
                _B + r"([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-]{60,})" + _E, (".atlasv1.",)),
    _token("dropbox-token", "dropbox_token", r"sl\.[A-Za-z0-9_\-]{130,}", ("sl.",)),
    _token("facebook-access-token", "facebook_token", r"EAA[A-Za-z0-9]{100,}", ("EAA",)),
    _token("huggingface-token", "huggingface_token", r"hf_[A-Za-z0-9]{34}", ("hf_",)),
    _token("databricks-token", "databricks_token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
    _token("age-secret-key", "age_key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
           ("AGE-SECRET-KEY-1",)),
    _token("newrelic-key", "newrelic_key", r"NR(?:AK|AA|II)-[A-Za-z0-9]{27,32}", ("NRAK-", "NRAA-", "NRII-")),
    _token("grafana-cloud-token", "grafana_token", r"glc_[A-Za-z0-9+/]{32,400}={0,2}", ("glc_",)),
    _token("grafana-service-account-token", "grafana_token", r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}", ("glsa_",)),
    _token("postman-api-key", "postman_key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("PMAK-",)),
    _token("doppler-token", "doppler_token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}", ("dp.",)),
    _token("pulumi-token", "pulumi_token", r"pul-[a-f0-9]{40}", ("pul-",)),
    _token("sentry-token", "sentry_token", r"(?:sntrys_eyJ[A-Za-z0-9+/=_\-]{60,}|sntryu_[a-f0-9]{64})",
           ("sntrys_", "sntryu_")),
    _token("linear-api-key", "linear_key", r"lin_api_[A-Za-z0-9]{40}", ("lin_api_",)),
    _token("notion-token", "notion_token", r"(?:secret|ntn)_[A-Za-z0-9]{43}", ("secret_", "ntn_"), MEDIUM),
    _token("atlassian-api-token", "atlassian_token", r"ATATT3[A-Za-z0-9_\-=]{180,200}", ("ATATT3",)),
    _token("alibaba-access-key-id", "alibaba_access_key_id", r"LTAI[A-Za-z0-9]{12,20}", ("LTAI",)),
    _token("tencent-secret-id", "tencent_secret_id", r"AKID[A-Za-z0-9]{32}", ("AKID",)),
    _token("mapbox-secret-token", "mapbox_token", r"sk\.eyJ[A-Za-z0-9_\-]{50,}\.[A-Za-z0-9_\-]{20,}", ("sk.eyJ",)),
    _token("tailscale-key", "tailscale_key", r"tskey-(?:api|auth|client|webhook)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,}",
           ("tskey-",)),
    _token("netlify-token", "netlify_token", r"nfp_[A-Za-z0-9]{36}", ("nfp_",)),
    _token("rubygems-api-key", "rubygems_key", r"rubygems_[a-f0-9]{48}", ("rubygems_",)),
    _token("contentful-token", "contentful_token", r"CFPAT-[A-Za-z0-9_\-]{43}", ("CFPAT-",)),
    _token("heroku-api-key", "heroku_key", r"HRKU-[A-Za-z0-9_\-]{60}", ("HRKU-",)),
    _token("airtable-token", "airtable_token", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", ("pat",)),
    _token("slack-app-token", "slack_token", r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]{20,}", ("xapp-",)),
    _in_context("datadog-api-key", "datadog_key",
                r"(?i)(?:datadog|dd)_?(?:api|app(?:lication)?)_?key['\"]?\s*[:=]\s*['\"]?([a-f0-9]{32,40})(?![a-f0-9])",
                ("datadog", "dd_api", "dd_app", "ddapi", "ddapp")),
)


class ProviderTokenDetector(PatternDetector):
    name = "provider"
    rules = RULES
