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


def test_form_offers_declared_choices_as_a_dropdown(runbook_fixture):
    form = parameter_form(str(runbook_fixture("choices")), {})
    assert type(form.fields["mode"]).__name__ == "Dropdown"
    assert [v for _, v in form.fields["unit"].options] == [None, "ms", "s"]


def _launcher(runbook_fixture, tmp_path, monkeypatch):
    from opskit import launcher

    monkeypatch.setenv("OPSKIT_RUNBOOKS", str(runbook_fixture("choices").parent))
    monkeypatch.chdir(tmp_path)
    return launcher(reports_dir=tmp_path / "reports")


def test_launcher_builds_a_form_from_the_chosen_runbook(runbook_fixture, tmp_path, monkeypatch):
    ui = _launcher(runbook_fixture, tmp_path, monkeypatch)
    assert {"choices", "passing", "triage_job", "report_gpu_cost"} <= set(ui.catalogue.options)
    ui.catalogue.value = "choices"
    assert set(ui.fields) == {"mode", "share", "input_path", "unit"}
    assert type(ui.fields["mode"]).__name__ == "Dropdown" and list(ui.fields["mode"].options) == [
        ("fast", "fast"),
        ("slow", "slow"),
    ]
    assert type(ui.fields["share"]).__name__ == "FloatText" and ui.fields["share"].value == 0.5
    helps = [box.children[1].value for box in ui.form.children]
    assert any("the observed share" in h and "&gt; 0 and &lt; 1" in h for h in helps)
    ui.catalogue.value = "passing"
    assert "threshold" in ui.fields and "mode" not in ui.fields


def test_launcher_refuses_bad_values_before_running(runbook_fixture, tmp_path, monkeypatch):
    ui = _launcher(runbook_fixture, tmp_path, monkeypatch)
    ui.choose("choices")
    ui.fields["share"].value = 1.5
    ui.run_button.click()
    assert ui.result is None and "&#x27;share&#x27; must be &gt; 0 and &lt; 1" in ui.status.value
    ui.fields["share"].value = 0.5
    ui.fields["input_path"].value = str(tmp_path / "missing.log")
    ui.run_button.click()
    assert ui.result is None and "no such file or folder" in ui.status.value and "input_path" in ui.status.value
    assert not (tmp_path / "reports").exists()


def test_launcher_runs_the_runbook_and_shows_its_verdict_and_report(runbook_fixture, tmp_path, monkeypatch):
    ui = _launcher(runbook_fixture, tmp_path, monkeypatch)
    ui.choose("choices")
    ui.fields["mode"].value = "slow"
    ui.fields["share"].value = 0.4
    ui.fields["input_path"].value = str(tmp_path)
    ui.run_button.click()
    result = ui.result
    assert result is not None and result.exit_code == 1 and result.summary["parameters"]["mode"] == "slow"
    assert result.html_path.is_file() and result.html_path.is_relative_to(tmp_path / "reports" / "choices")
    assert "choices: FAIL" in ui.status.value
    assert "FAIL</td><td>share in mode</td><td>slow</td>" in ui.verdicts.value
    assert "<td>0.4</td><td>0.25</td><td>lower the share</td>" in ui.verdicts.value
    assert f"href='{result.html_path.relative_to(tmp_path)}'" in ui.report_link.value
    assert ui.progress.value == ui.progress.max > 1 and not ui.run_button.disabled
