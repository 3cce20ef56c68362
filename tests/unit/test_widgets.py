from opskit.widgets import parameter_form


def test_form_validates_and_sets_parameters(runbook_fixture):
    ns: dict = {}
    form = parameter_form(str(runbook_fixture("passing")), ns, choices={"label": ["gpu0", "gpu1"]})
    assert type(form.fields["label"]).__name__ == "Dropdown"
    assert type(form.fields["verbose"]).__name__ == "Checkbox"
    form.fields["value"].value = 9.5
    form.fields["label"].value = "gpu1"
    values = form.apply()
    assert ns["value"] == 9.5 and ns["label"] == "gpu1" and ns["names"] == ["a", "b"]
    assert values["retries"] == 2


def test_form_reports_bad_values_without_setting_them(runbook_fixture):
    ns: dict = {}
    form = parameter_form(str(runbook_fixture("passing")), ns)
    form.fields["names"].value = "[a, b"
    assert form.apply() == {} and ns == {}
