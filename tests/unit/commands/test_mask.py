import argparse
import subprocess
import sys

from opskit.commands import mask as mask_command
from opskit.privacy.stream import mask_lines


def test_mask_lines_keeps_a_private_key_block_whole_across_batches(monkeypatch):
    monkeypatch.setattr("opskit.privacy.stream.BATCH_CHARS", 10)
    lines = ["x\n", "-----BEGIN PRIVATE KEY-----\n", "MIIsecretline\n", "-----END PRIVATE KEY-----\n", "a@b.io\n"]
    out = "".join(mask_lines(lines))
    assert "MIIsecretline" not in out and "<private-key>" in out and "<email>" in out


def test_mask_command_streams_a_file(tmp_path, capsys):
    src = tmp_path / "in.log"
    src.write_bytes(b"user a@b.io phone 13812345678\n\xff\xfe raw bytes\nstep 1 loss 2.5\n")
    out = tmp_path / "out.log"
    args = argparse.Namespace(path=str(src), out=str(out), kinds=None, operator="mask", keep_ip=False)
    assert mask_command.run(args) == 0
    text = out.read_bytes()
    assert b"a@b.io" not in text and b"138****5678" in text
    assert b"\xff\xfe raw bytes" in text and text.endswith(b"step 1 loss 2.5\n")
    err = capsys.readouterr().err
    assert "email=1" in err and "phone=1" in err


def test_mask_command_reads_stdin_through_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "opskit.cli", "mask", "-", "--operator", "redact"],
        input=b"token=abc123456 ok\n",
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"token=[key_value_secret] ok\n"
    assert b"key_value_secret=1" in proc.stderr
