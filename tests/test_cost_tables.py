"""The shipped technology tables and the shared schema fragment stay in step with their sources."""
import jsonschema
import pytest

from archsim.config import read_yaml, validate
from archsim.cost import ESTIMATORS, schema_fragment
from archsim.cost import tech_tables
from archsim.cost.estimators import COMMON_ATTRS


@pytest.mark.parametrize("node", sorted(tech_tables.NODES))
def test_shipped_tables_are_generated_and_valid(node):
    path = tech_tables.TECH_DIR / f"{node}nm.yaml"
    assert path.read_text() == tech_tables.render(node), "regenerate: python -m archsim.cost.tech_tables"
    data = read_yaml(path)
    validate(data, "technology", str(path))
    for name, entry in data["entries"].items():
        source = entry["source"].lower()
        assert any(word in source for word in ("horowitz", "cacti", "stillmaker", "sata", "nangate", "dally",
                                               "o'connor", "assumption", "est")), name


def test_sram_and_wires_scale_less_than_logic_below_28nm():
    previous = tech_tables.scaling(28)
    for node in (22, 12, 7):
        factors = tech_tables.scaling(node)
        assert factors["logic_energy"] < factors["sram_energy"] < previous["sram_energy"]
        assert factors["logic_area"] < factors["sram_area"] < previous["sram_area"]
        assert factors["logic_energy"] < factors["wire_energy"]
        previous = factors


def test_power_law_fit_recovers_a_known_curve():
    coef, exponent = tech_tables.power_law_fit([1, 4, 16], [3.0, 6.0, 12.0])
    assert coef == pytest.approx(3.0) and exponent == pytest.approx(0.5)


def test_common_schema_mirrors_the_estimator_specs():
    fragment = schema_fragment()
    jsonschema.Draft202012Validator.check_schema({"$defs": fragment})
    assert set(fragment["component"]["properties"]["class"]["enum"]) == set(ESTIMATORS)
    rules = {}
    for rule in fragment["component"]["allOf"]:
        cond = rule["if"]["properties"]["class"]
        for cls in cond.get("enum", [cond.get("const")]):
            rules[cls] = rule["then"]
    for cls, estimator in ESTIMATORS.items():
        props = set(rules[cls]["properties"]) - {"class"}
        assert props == set(estimator.attributes) | set(COMMON_ATTRS), cls
        assert set(rules[cls]["required"]) == {k for k, a in estimator.attributes.items() if a.required}, cls
