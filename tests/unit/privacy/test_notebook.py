import nbformat

from opskit.privacy import MaskingPolicy
from opskit.privacy.notebook import final_pass, mask_html, mask_notebook


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("contact a@b.io"),
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="token=abc123xyz\n"),
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "text/plain": "13812345678",
                        "text/html": '<td title="a@b.io">AKIAIOSFODNN7EXAMPLE &amp; x</td>',
                        "image/png": "iVBORw0KGgo=",
                    },
                ),
            ],
        ),
    ]
    return nb


def test_every_text_output_is_masked_images_are_left_and_a_second_pass_counts_nothing():
    nb = _notebook()
    counts = mask_notebook(nb, MaskingPolicy())
    assert dict(counts) == {"email": 2, "key_value_secret": 1, "phone": 1, "aws_key_id": 1}
    out = nb.cells[1].outputs
    assert nb.cells[0].source == "contact <email>"
    assert out[0].text == "token=***\n"
    assert out[1].data["text/plain"] == "138****5678"
    assert out[1].data["text/html"] == '<td title="&lt;email&gt;">&lt;aws-key-id&gt; &amp; x</td>'
    assert out[1].data["image/png"] == "iVBORw0KGgo="
    assert not mask_notebook(nb, MaskingPolicy())


def test_final_pass_adds_its_counts_and_says_when_masking_was_off():
    summary = {"checks": [{"subject": "bob@corp.com"}], "masking": {"enabled": True, "counts": {"email": 1}}}
    masked = final_pass(_notebook(), summary)
    assert masked["checks"][0]["subject"] == "<email>"
    assert masked["masking"]["counts"]["email"] == 4 and masked["masking"]["final_pass"]["email"] == 3
    off = final_pass(_notebook(), summary, enabled=False)
    assert off["masking"]["enabled"] is False and off["checks"][0]["subject"] == "bob@corp.com"


def test_html_text_is_unescaped_before_masking():
    shown = mask_html("<b>{&quot;password&quot;: &quot;s3cr3t&quot;}</b>", MaskingPolicy())
    assert shown == '<b>{"password": "***"}</b>'


def test_the_injected_parameters_cell_is_masked_the_runbooks_own_code_is_not():
    import nbformat

    from opskit.privacy.notebook import mask_notebook

    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell('model_path = "/models/alice.smith@example.com/v3"')
    injected.metadata["tags"] = ["injected-parameters"]
    own = nbformat.v4.new_code_cell('contact = "alice.smith@example.com"  # the runbook\'s own code')
    nb.cells = [injected, own]
    counts = mask_notebook(nb)
    assert "alice.smith@example.com" not in nb.cells[0].source and "/models/" in nb.cells[0].source
    assert nb.cells[1].source == own.source and sum(counts.values()) == 1


def test_papermills_record_of_the_parameters_and_paths_is_masked(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {
        "parameters": {"model_path": "/tmp/x/alice.smith@example.com/models", "top_k": 5},
        "input_path": "/runbooks/diagnose_model_load.ipynb",
        "output_path": "/reports/alice.smith@example.com/report.ipynb",
    }
    counts = mask_notebook(nb)
    record = nb.metadata["papermill"]
    assert record["parameters"] == {"model_path": "/tmp/x/<email>/models", "top_k": 5}
    assert record["output_path"] == "/reports/<email>/report.ipynb" and counts["email"] == 2
    nbformat.write(nb, tmp_path / "stored.ipynb")  # still a valid notebook
    assert sum(mask_notebook(nb).values()) == 0  # a second pass finds nothing left


def test_a_quoted_secret_is_masked_inside_its_quotes_and_a_second_pass_changes_nothing():
    from opskit.privacy import counting, mask

    for text, shown in [
        ('{"db_password": "s3cr3tJson!"}', '{"db_password": "***"}'),
        ("{'token': 'abc12345'}", "{'token': '***'}"),
        ('password: "abc def"', 'password: "***"'),
    ]:
        assert mask(text) == shown
        with counting() as again:
            assert mask(shown) == shown
        assert sum(again.values()) == 0
