from opskit.report import masking_note


def test_masking_note_lists_counts_and_warns_when_off():
    note = masking_note({"enabled": True, "operator": "mask", "counts": {"phone": 2, "email": 1}})
    assert "email 1, phone 2" in note
    assert "OFF" in masking_note({"enabled": False, "counts": {}})
    assert masking_note(None) == ""
