"""Provider token formats: credentials that announce themselves by their shape.

Each rule names the provider's documented token format. Identifiers that are not secrets
(AWS user and role ids, Stripe publishable keys) are deliberately absent.
"""

from __future__ import annotations

from migrator.discover.detectors.base import PatternDetector, PatternRule
from migrator.discover.models import Confidence

_B = r"(?<![A-Za-z0-9_\-+/])"  # start of a token: not inside a longer word
_E = r"(?![A-Za-z0-9_\-+/=])"  # end of a token

RULES: tuple[PatternRule, ...] = (
    PatternRule("aws-access-key-id", "aws_access_key_id",
                _B + r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}" + _E, ("akia", "asia", "abia", "acca", "a3t")),
    PatternRule("aws-secret-access-key", "aws_secret_access_key",
                r"(?i)aws.{0,20}?secret.{0,20}?['\"=:\s]\s*['\"]?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
                ("aws",), group=1),
    PatternRule("github-token", "github_token", _B + r"gh[pousr]_[A-Za-z0-9]{36,255}" + _E,
                ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    PatternRule("github-fine-grained-token", "github_token", _B + r"github_pat_[A-Za-z0-9_]{82}" + _E,
                ("github_pat_",)),
    PatternRule("gitlab-token", "gitlab_token",
                _B + r"(?:glpat|gldt|glrt|glptt|glcbt|glimt|glagent|glsoat|glffct)-[A-Za-z0-9_\-]{20,}" + _E,
                ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glimt-", "glagent-", "glsoat-", "glffct-")),
    PatternRule("gitlab-runner-registration-token", "gitlab_token", _B + r"GR1348941[A-Za-z0-9_\-]{20}" + _E,
                ("gr1348941",)),
    PatternRule("slack-token", "slack_token", _B + r"xox[abposer]-(?:\d+-)?[A-Za-z0-9-]{10,}" + _E,
                ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxe-", "xoxr-")),
    PatternRule("slack-webhook", "slack_webhook",
                r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/]{20,}", ("hooks.slack.com",)),
    PatternRule("stripe-secret-key", "stripe_key", _B + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _E,
                ("sk_live_", "sk_test_", "rk_live_", "rk_test_")),
    PatternRule("stripe-webhook-secret", "stripe_key", _B + r"whsec_[A-Za-z0-9]{24,}" + _E, ("whsec_",)),
    PatternRule("google-api-key", "google_api_key", _B + r"AIza[0-9A-Za-z_\-]{35}" + _E, ("aiza",)),
    PatternRule("google-oauth-client-secret", "google_oauth_secret", _B + r"GOCSPX-[A-Za-z0-9_\-]{28}" + _E,
                ("gocspx-",)),
    PatternRule("azure-storage-account-key", "azure_storage_key",
                r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)", ("accountkey=",), group=1),
    PatternRule("azure-ad-client-secret", "azure_client_secret",
                _B + r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}" + _E, ("q~",)),
    PatternRule("azure-sas-signature", "azure_sas_token",
                r"(?i)[?&]sig=([A-Za-z0-9%+/=]{43,})", ("sig=",), group=1),
    PatternRule("jwt", "jwt",
                _B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}" + _E, ("eyj",),
                Confidence.MEDIUM),
    PatternRule("twilio-api-key", "twilio_key", _B + r"SK[0-9a-f]{32}" + _E, ("sk",), Confidence.MEDIUM),
    PatternRule("sendgrid-api-key", "sendgrid_key", _B + r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _E,
                ("sg.",)),
    PatternRule("mailgun-api-key", "mailgun_key", _B + r"key-[0-9a-z]{32}" + _E, ("key-",), Confidence.MEDIUM),
    PatternRule("mailchimp-api-key", "mailchimp_key", _B + r"[0-9a-f]{32}-us[0-9]{1,2}" + _E, ("-us",)),
    PatternRule("npm-token", "npm_token", _B + r"npm_[A-Za-z0-9]{36}" + _E, ("npm_",)),
    PatternRule("pypi-token", "pypi_token", _B + r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}" + _E,
                ("pypi-ageichlwas5vcmc",)),
    PatternRule("digitalocean-token", "digitalocean_token", _B + r"do[opr]_v1_[a-f0-9]{64}" + _E,
                ("dop_v1_", "doo_v1_", "dor_v1_")),
    PatternRule("shopify-token", "shopify_token", _B + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _E,
                ("shpat_", "shpca_", "shppa_", "shpss_")),
    PatternRule("square-token", "square_token", _B + r"(?:sq0atp|sq0csp|EAAA)[A-Za-z0-9_\-]{22,60}" + _E,
                ("sq0atp", "sq0csp", "eaaa")),
    PatternRule("telegram-bot-token", "telegram_token", _B + r"[0-9]{8,10}:AA[0-9A-Za-z_\-]{33}" + _E,
                (":aa",)),
    PatternRule("discord-webhook", "discord_webhook",
                r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]{60,}",
                ("discord",)),
    PatternRule("openai-api-key", "openai_key",
                _B + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}" + _E,
                ("t3blbkfj",)),
    PatternRule("anthropic-api-key", "anthropic_key", _B + r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{80,}" + _E,
                ("sk-ant-",)),
    PatternRule("vault-token", "vault_token", _B + r"hv[sbr]\.[A-Za-z0-9_\-]{24,}" + _E, ("hvs.", "hvb.", "hvr.")),
    PatternRule("terraform-cloud-token", "terraform_token",
                _B + r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-]{60,}" + _E, (".atlasv1.",)),
    PatternRule("dropbox-token", "dropbox_token", _B + r"sl\.[A-Za-z0-9_\-]{130,}" + _E, ("sl.",)),
    PatternRule("facebook-access-token", "facebook_token", _B + r"EAA[A-Za-z0-9]{100,}" + _E, ("eaa",)),
    PatternRule("huggingface-token", "huggingface_token", _B + r"hf_[A-Za-z0-9]{34}" + _E, ("hf_",)),
    PatternRule("databricks-token", "databricks_token", _B + r"dapi[a-f0-9]{32}(?:-\d)?" + _E, ("dapi",)),
    PatternRule("age-secret-key", "age_key", _B + r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}" + _E,
                ("age-secret-key-1",)),
    PatternRule("newrelic-key", "newrelic_key", _B + r"NR(?:AK|AA|II)-[A-Za-z0-9]{27,32}" + _E,
                ("nrak-", "nraa-", "nrii-")),
    PatternRule("datadog-api-key", "datadog_key",
                r"(?i)(?:datadog|dd)_?(?:api|app(?:lication)?)_?key['\"]?\s*[:=]\s*['\"]?([a-f0-9]{32,40})(?![a-f0-9])",
                ("dd", "datadog"), group=1),
)


class ProviderTokenDetector(PatternDetector):
    name = "provider"
    rules = RULES
