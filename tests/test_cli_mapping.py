"""The mapping as the staff console shows and saves it: previews of the first values as they
will be stored, and changes saved into harvest.yaml with its comments kept."""

from __future__ import annotations

import pytest
import yaml
from conftest import write_config, write_csv

from harvest.cli.mapping import propose_mapping, save_mapping
from harvest.config import load_config
from harvest.errors import ConfigError


def test_a_preview_shows_values_cleaned_and_problems_in_words(
    project, signup_rows, lunch_source
) -> None:
    write_csv(project / "lunch.csv", [*signup_rows, ["Dee", "Ray", "", "not one", "", ""]])
    cfg = load_config(write_config(project, [lunch_source()]))
    [table] = propose_mapping(cfg, "lunch", preview=True)
    samples = dict(zip([m.header for m in table.maps], table.samples, strict=True))
    assert samples["Postcode"] == ["NW1 2AB", "M14 5TQ", "SW1A 1AA"]
    assert samples["Date of birth"][0] == "1961-03-02"
    assert propose_mapping(cfg, "lunch")[0].samples == []  # headers only, unless asked
    write_csv(project / "lunch.csv", [signup_rows[0], ["Dee", "Ray", "", "not one", "", ""]])
    [table] = propose_mapping(cfg, "lunch", preview=True)
    assert table.samples[3] == ["'not one': not a UK postcode"]


def test_saving_a_choice_keeps_comments_and_changes_only_what_differs(
    project, signup_rows, lunch_source
) -> None:
    write_csv(project / "lunch.csv", signup_rows)
    path = write_config(project, [lunch_source(mapping={"Phone": "phone"})])
    path.write_text("# who to ask: Ann\n" + path.read_text())
    cfg = load_config(path)
    assert save_mapping(cfg, "lunch", {"Email": None, "Phone": "phone"}) == 1
    text = path.read_text()
    assert text.startswith("# who to ask: Ann\n")
    assert yaml.safe_load(text)["sources"][0]["mapping"] == {"Phone": "phone", "Email": None}
    maps = {m.header: m for m in propose_mapping(load_config(path), "lunch")[0].maps}
    assert maps["Email"].field is None and maps["Email"].method == "ignored"
    with pytest.raises(ConfigError, match="'favourite_colour' is not a field"):
        save_mapping(cfg, "lunch", {"Email": "favourite_colour"})
