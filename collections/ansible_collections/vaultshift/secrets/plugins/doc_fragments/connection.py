# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""Where the secrets are: the backend and how to reach it (shared by every plugin that reads or
writes secrets)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  config:
    description:
      - A vaultshift configuration file (C(vaultshift.yml)) whose C(backends) name the stores the
        migration wrote to. The references C(vaultshift apply) wrote name a backend only when it is
        not the configuration's C(default_backend).
      - When not given, C(vaultshift.yml) in the current directory is used if there is one;
        otherwise the backends are C(vault) (Vault/OpenBao, from the options below and the usual
        C(VAULT_*) variables) and C(aws) (Secrets Manager, from the AWS credential chain).
    type: path
    env:
      - name: VAULTSHIFT_CONFIG
    ini:
      - section: vaultshift_secrets
        key: config
    vars:
      - name: ansible_vaultshift_config
  backend:
    description:
      - The backend (a name in C(config)) that holds the secret. Defaults to the configuration's
        C(default_backend).
    type: str
  url:
    description:
      - Vault/OpenBao address. Defaults to C(VAULT_ADDR), else C(http://127.0.0.1:8200).
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_ADDR
      - name: VAULT_ADDR
    ini:
      - section: vaultshift_secrets
        key: url
    vars:
      - name: ansible_vaultshift_url
      - name: ansible_hashi_vault_url
      - name: ansible_hashi_vault_addr
  namespace:
    description:
      - Vault Enterprise / OpenBao namespace. Defaults to C(VAULT_NAMESPACE).
    type: str
    env:
      - name: ANSIBLE_HASHI_VAULT_NAMESPACE
      - name: VAULT_NAMESPACE
    ini:
      - section: vaultshift_secrets
        key: namespace
    vars:
      - name: ansible_vaultshift_namespace
      - name: ansible_hashi_vault_namespace
  engine_mount_point:
    description:
      - The KV version 2 mount. Defaults to the configuration's, else C(secret).
    type: str
    vars:
      - name: ansible_vaultshift_engine_mount_point
      - name: ansible_hashi_vault_engine_mount_point
  prefix:
    description:
      - A path prefix below the mount (Vault) or before the name (Secrets Manager), as in the
        configuration's backend.
    type: str
  validate_certs:
    description:
      - Whether to check the server's TLS certificate.
    type: bool
    env:
      - name: ANSIBLE_HASHI_VAULT_VALIDATE_CERTS
    vars:
      - name: ansible_vaultshift_validate_certs
      - name: ansible_hashi_vault_validate_certs
  ca_cert:
    description:
      - A CA bundle to check the server's certificate with. Defaults to C(VAULT_CACERT).
    type: str
    aliases: [cacert]
    env:
      - name: ANSIBLE_HASHI_VAULT_CA_CERT
      - name: VAULT_CACERT
    ini:
      - section: vaultshift_secrets
        key: ca_cert
    vars:
      - name: ansible_vaultshift_ca_cert
      - name: ansible_hashi_vault_ca_cert
  timeout:
    description:
      - Seconds to wait for each request.
    type: int
    env:
      - name: ANSIBLE_HASHI_VAULT_TIMEOUT
    vars:
      - name: ansible_vaultshift_timeout
      - name: ansible_hashi_vault_timeout
  retries:
    description:
      - How many times a request that failed for a passing reason (connection refused, timeout,
        a 5xx) is tried again, with exponential backoff.
    type: int
    env:
      - name: ANSIBLE_HASHI_VAULT_RETRIES
    vars:
      - name: ansible_vaultshift_retries
      - name: ansible_hashi_vault_retries
  region:
    description:
      - AWS region of a Secrets Manager backend. Defaults to the AWS configuration.
    type: str
    vars:
      - name: ansible_vaultshift_region
  aws_profile:
    description:
      - AWS profile of a Secrets Manager backend.
    type: str
    aliases: [boto_profile]
    env:
      - name: AWS_PROFILE
    vars:
      - name: ansible_vaultshift_aws_profile
  endpoint_url:
    description:
      - Secrets Manager endpoint (a VPC endpoint; a local test server).
    type: str
    vars:
      - name: ansible_vaultshift_endpoint_url
"""
