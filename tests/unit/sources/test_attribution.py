import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.attribution import UNATTRIBUTED, attribute, read_attribution


def _samples():
    return pd.DataFrame(
        {
            "host": ["train-1", "train-1", "resv-3", "infer-7", "lost-9", "train-1"],
            "gpu": [0, 1, 0, 2, 0, 7],
            "namespace": ["llm", None, None, "search", None, "vision"],
            "pod": ["p0", None, None, "embed-0", None, "det-1"],
        }
    )


def _rules(tmp_path, text):
    path = tmp_path / "attribution.csv"
    path.write_text(text)
    return path


def test_first_matching_rule_wins_and_unmatched_are_kept(tmp_path):
    path = _rules(
        tmp_path,
        "host,gpu,namespace,team,project\n"
        "train-1,7,,special,override\n"
        ",,llm,llm,pretrain\n"
        ",,vision,vision,detector\n"
        "resv-*,,,nlp,finetune\n"
        "infer-?,,,search,\n",
    )
    out = attribute(_samples(), path)
    assert out["team"].tolist() == ["llm", UNATTRIBUTED, "nlp", "search", UNATTRIBUTED, "special"]
    assert out["project"].tolist() == ["pretrain", UNATTRIBUTED, "finetune", UNATTRIBUTED, UNATTRIBUTED, "override"]
    assert len(out) == len(_samples())  # nothing dropped


def test_existing_team_labels_are_kept(tmp_path):
    samples = _samples().assign(team=["from-label", None, None, None, None, None])
    out = attribute(samples, _rules(tmp_path, "host,team\ntrain-1,mapped\n"))
    assert out["team"].tolist()[:2] == ["from-label", "mapped"]
    out = attribute(samples, _rules(tmp_path, "host,team\ntrain-1,mapped\n"), keep_existing=False)
    assert out["team"].iloc[0] == "mapped"


def test_rule_on_a_column_the_samples_lack_never_matches(tmp_path):
    samples = _samples().drop(columns=["namespace", "pod"])
    out = attribute(samples, _rules(tmp_path, "namespace,team\nllm,llm\n"))
    assert (out["team"] == UNATTRIBUTED).all()


def test_yaml_rules(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("- {namespace: llm, team: llm, project: pretrain}\n- {host: 'resv-*', team: nlp}\n")
    out = attribute(_samples(), read_attribution(path))
    assert out["team"].tolist()[:3] == ["llm", UNATTRIBUTED, "nlp"]


def test_unknown_column_names_expected_and_found(tmp_path):
    with pytest.raises(InputError) as err:
        read_attribution(_rules(tmp_path, "node,team\nx,y\n"))
    assert err.value.column == "node"
    assert "found" in err.value.reason


def test_missing_team_column_and_empty_team(tmp_path):
    with pytest.raises(InputError) as err:
        read_attribution(_rules(tmp_path, "host,project\nx,y\n"))
    assert err.value.column == "team"
    with pytest.raises(InputError) as err:
        read_attribution(_rules(tmp_path, "host,team\nx,y\nz,\n"))
    assert err.value.line == 3


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_attribution(_rules(tmp_path, ""))
    with pytest.raises(InputError, match="no rules"):
        read_attribution(_rules(tmp_path, "host,team\n"))
    with pytest.raises(InputError, match="not found"):
        read_attribution(tmp_path / "absent.csv")


def test_sample_fleet_mapping_matches_ground_truth():
    from opskit.samples.fleet import ATTRIBUTION, generate_fleet

    fleet = generate_fleet(days=2)
    rules = pd.DataFrame(ATTRIBUTION, columns=["host", "gpu", "namespace", "team", "project"])
    out = attribute(fleet.drop(columns=["team", "project"]), rules)
    attributed = out["team"] != UNATTRIBUTED
    assert (out.loc[attributed, "team"] == fleet.loc[attributed, "team"]).all()
    assert len(out) == len(fleet)  # nothing dropped
    assert out.loc[~attributed, "namespace"].isna().all()  # only samples no rule can place stay unattributed


def test_utf16_mapping_file_is_read(tmp_path):
    from opskit.sources.attribution import read_attribution

    mapping = tmp_path / "attribution.csv"
    mapping.write_bytes("host,team,project\nnode-1,研究,llm\n".encode("utf-16"))
    rules = read_attribution(mapping)
    assert rules["team"].tolist() == ["研究"] and rules["host"].tolist() == ["node-1"]
