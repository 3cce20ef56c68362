import pytest

from opskit.errors import InputError
from opskit.sources.encodings import decode, detect_encoding, open_text, read_text

TEXT = "ts,gpu,util\n2026-11-28T10:00:00Z,0,95\n温度,1,7\n"


@pytest.mark.parametrize(
    ("encoding", "expected", "how"),
    [
        ("utf-8", "utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig", "bom"),
        ("utf-16", "utf-16-le", "bom"),  # Python writes a little-endian mark
        ("utf-16-le", "utf-16-le", "nul pattern"),
        ("utf-16-be", "utf-16-be", "nul pattern"),
        ("utf-32", "utf-32-le", "bom"),
        ("utf-32-be", "utf-32-be", "nul pattern"),
        ("gbk", "gb18030", "fallback"),
    ],
)
def test_every_encoding_is_told_and_decoded_to_the_same_text(tmp_path, encoding, expected, how):
    path = tmp_path / "x.csv"
    path.write_bytes(TEXT.encode(encoding))
    got = read_text(path)
    assert (got.text, got.encoding, got.how) == (TEXT, expected, how)
    stream, enc = open_text(path)
    with stream:
        assert stream.read().lstrip("\ufeff") == TEXT
    assert enc == expected


def test_binary_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"model\.bin.*not text"):
        read_text(path)
    assert detect_encoding(b"\x80\x04\x95\x00\x00\x01\x02") is None


def test_a_given_encoding_that_does_not_fit_names_the_byte(tmp_path):
    with pytest.raises(InputError, match=r"cannot be decoded as ascii at byte 3"):
        decode("abc温".encode(), path="f.log", encoding="ascii")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        read_text(tmp_path)
