"""Real lines from public issue threads keep their look-alikes; published example credentials are masked."""

from pathlib import Path

from opskit.privacy import find_sensitive, mask

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real" / "pii"


def test_real_log_lines_with_look_alikes_are_left_as_they_are():
    for number, line in enumerate((REAL / "look_alikes.log").read_text().splitlines(), 1):
        assert mask(line) == line, (number, find_sensitive(line))


def test_published_example_credentials_are_masked():
    lines = (REAL / "test_credentials.txt").read_text().splitlines()
    masked = [mask(line) for line in lines]
    assert masked[0] == "aws_access_key_id=<aws-key-id>"
    assert masked[1] == "aws_secret_access_key=***"
    assert masked[2] == "AWS Access Key ID [None]: <aws-key-id>"
    assert masked[3].startswith("/home/<user>/anaconda3/envs/diffuseq/") and "cltam" not in masked[3]
