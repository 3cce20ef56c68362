"""Every kind of PII and secret planted into the logs a runbook shows: the rendered HTML, the stored
notebook and summary.json hold none of them in clear, look-alikes stay, and --no-masking says so.

One run per runbook. The log runbooks get a log whose error line sits among the planted lines, with
enough excerpt context that the runbook shows them all.
"""

from __future__ import annotations

import json

import pytest

from opskit.runner import run_runbook

PLANTED = {
    "email": "alice.smith@example.com",
    "phone_intl": "+1 650-253-0000",
    "phone_cn": "13812345678",
    "cn_resident_id": "11010519491231002X",
    "payment_card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ipv4": "10.23.45.67",
    "ipv6": "2001:db8:85a3::8a2e:370:7334",
    "bearer": "Bearer abcdefgh12345678zz",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "gcp": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "azure": "abc8Q~abcdefghijklmnopqrstuvwxyz0123456",
    "github": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "hf": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123",
    "openai": "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "slack": "xoxb-1234567890-abcdefghij",
    "private_key": "MIIEowIBAAKCAQEAplantedkeybody",
    "url_password": "pa55wordInUrl",
    "kv_password": "hunter22kv",
    "json_password": "s3cr3tJson!",
    "yaml_password": "yamlS3cret9",
}
LOOK_ALIKES = [
    "ORD-2026112800017",
    "550e8400-e29b-41d4-a716-446655440000",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "2.5.1+cu124",
    "2026-11-28T10:00:01.123Z",
    "loss 1.23456789",
]
LINES = [
    f"user {PLANTED['email']} phone {PLANTED['phone_intl']} mobile {PLANTED['phone_cn']}",
    f"id {PLANTED['cn_resident_id']} card {PLANTED['payment_card']} iban {PLANTED['iban']}",
    f"peer {PLANTED['ipv4']} and {PLANTED['ipv6']} auth {PLANTED['bearer']}",
    f"jwt {PLANTED['jwt']} aws {PLANTED['aws']} gcp {PLANTED['gcp']}",
    f"azure {PLANTED['azure']} gh {PLANTED['github']} hf {PLANTED['hf']}",
    f"openai {PLANTED['openai']} slack {PLANTED['slack']}",
    "-----BEGIN RSA PRIVATE KEY-----",
    PLANTED["private_key"],
    "-----END RSA PRIVATE KEY-----",
    f"fetch https://bob:{PLANTED['url_password']}@minio.internal/ckpt",
    f"password={PLANTED['kv_password']}",
    f'{{"db_password": "{PLANTED["json_password"]}"}}',
    f"db_password: {PLANTED['yaml_password']}",
    "order " + " ".join(LOOK_ALIKES),
]
OOM = [
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
    "79.15 GiB of which 1.20 GiB is free. Of the allocated memory 75.10 GiB is allocated by PyTorch, and "
    "1.50 GiB is reserved by PyTorch but unallocated.",
]


def _planted_log(tmp_path):
    path = tmp_path / "rank0.log"
    path.write_text("\n".join(["step 1 loss 2.31", *LINES, *OOM, *LINES, "step 2 loss 2.30"]) + "\n")
    return path


def _leaks(run) -> list[str]:
    texts = {
        "html": run.html_path.read_text(encoding="utf-8"),
        "notebook": run.notebook_path.read_text(encoding="utf-8"),
        "summary": (run.report_dir / "summary.json").read_text(encoding="utf-8"),
    }
    return [f"{kind} in {where}" for kind, value in PLANTED.items() for where, text in texts.items() if value in text]


CASES = {
    "triage_job": lambda log: {"log_path": str(log), "excerpt_lines": 40},
    "diagnose_gpu_oom": lambda log: {"log_path": str(log)},
    "diagnose_training_interruption": lambda log: {"log_path": str(log)},
}


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_no_planted_value_reaches_the_report(runbook, tmp_path):
    run = run_runbook(runbook, CASES[runbook](_planted_log(tmp_path)), reports_dir=tmp_path / "reports")
    assert _leaks(run) == []
    assert run.summary["masking"]["enabled"] is True
    html = run.html_path.read_text(encoding="utf-8")
    if runbook == "triage_job":  # the excerpt shows the planted lines: masked, their look-alikes as they were
        assert sum(run.summary["masking"]["counts"].values()) >= len(PLANTED)
        for value in LOOK_ALIKES:
            assert value in html, value


def test_no_masking_is_explicit_and_loud(tmp_path):
    run = run_runbook(
        "triage_job",
        {"log_path": str(_planted_log(tmp_path)), "excerpt_lines": 40},
        reports_dir=tmp_path / "reports",
        masking=False,
    )
    summary = json.loads((run.report_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["masking"]["enabled"] is False
    html = run.html_path.read_text(encoding="utf-8")
    assert "Masking was OFF for this run" in html
    assert PLANTED["aws"] in html  # off means off: the report is what the log said
