import pandas as pd
import pytest

from opskit.privacy import find_sensitive, mask, mask_frame


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("contact alice.smith@example.com for access", "alice.smith@example.com", "contact"),
        ("WANDB_API_KEY=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", "WANDB_API_KEY="),
        ("password: hunter22 retry", "hunter22", "password:"),
        ("login password hunter2x9 ok", "hunter2x9", "login password"),
        ('{"db_password": "s3cr3t!"}', "s3cr3t!", "db_password"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk", "eyJhbGci", "Bearer"),
        ("token hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123 loaded", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123", "loaded"),
        ("aws AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE", "aws"),
        ("s3://bucket via https://bob:pa55word@minio.internal/x", "pa55word", "https://bob:***@minio.internal"),
        ("NCCL INFO NET/Socket : Using [0]eth0:10.23.45.67<0>", "45.67", "10.23.x.x"),
        ("open /home/jdoe/ckpt/model.pt failed", "jdoe", "/home/<user>/ckpt/model.pt"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz012345 set", "sk-proj-abcdefghijklmnopqrstuvwxyz012345", "set"),
    ],
)
def test_mask_hides_the_value_and_keeps_the_shape(text, secret, kept):
    out = mask(text)
    assert secret not in out
    assert kept in out


def test_harmless_log_lines_are_unchanged():
    line = (
        "[rank3]:[E1128 10:00:01.123 ProcessGroupNCCL.cpp:616] Watchdog caught collective operation timeout SeqNum=4821"
    )
    assert mask(line) == line
    assert mask("step 1200 loss 2.314 lr 3.0e-04 tokens/s 51234") == "step 1200 loss 2.314 lr 3.0e-04 tokens/s 51234"
    assert mask("password reset required for the token refresh") == "password reset required for the token refresh"
    assert mask(None) is None


def test_find_sensitive_and_skip():
    text = "user bob@corp.com from 192.168.1.20"
    assert set(find_sensitive(text)) == {"email", "ipv4"}
    assert "192.168.1.20" in mask(text, skip={"ipv4"})


def test_mask_frame_masks_text_columns_only():
    frame = pd.DataFrame({"who": ["a@b.io", None], "latency_ms": [1.0, 2.0]})
    out = mask_frame(frame)
    assert out["who"].tolist()[0] == "<email>" and out["who"].isna().tolist()[1]
    assert out["latency_ms"].tolist() == [1.0, 2.0]
    assert frame["who"][0] == "a@b.io"  # the input is not modified
