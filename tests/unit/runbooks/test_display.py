"""Section outputs: masked Markdown, masked tables, notes for missing inputs, groups of outputs."""

import pandas as pd

from opskit.runbooks.display import Markdown, Outputs, table, unavailable


def test_markdown_is_masked_and_renders_as_markdown():
    text = Markdown("mail **alice@example.com** about it")
    assert "alice@example.com" not in text and "**" in text
    assert text._repr_markdown_() == str(text)


def test_table_masks_text_columns_and_says_when_empty():
    frame = pd.DataFrame({"who": ["bob@example.com"], "n": [3]})
    shown = table(frame)
    assert "bob@example.com" not in shown["who"].iloc[0] and shown["n"].iloc[0] == 3
    assert frame["who"].iloc[0] == "bob@example.com", "the input frame is not changed"
    assert table(frame.iloc[0:0], empty="No idle GPUs.") == "No idle GPUs."


def test_unavailable_names_what_is_missing_and_why():
    note = unavailable("The loss curve", "the logs could not be read")
    assert note.startswith("**The loss curve** is not available: the logs could not be read")


def test_outputs_drop_nothing_but_none_and_display_each(capsys):
    out = Outputs([Markdown("a"), None, "b"])
    assert list(out) == ["a", "b"]
    out._ipython_display_()
    printed = capsys.readouterr().out
    assert "a" in printed and "b" in printed
