"""Reference data: départements and régions from config/departements.csv, looked up as staff write them."""

from __future__ import annotations

from pathlib import Path

import pytest

from automations.domain.reference import Reference, normalise_code
from automations.settings.files import load_reference
from connectors.errors import ConfigurationError

REPO = Path(__file__).parent.parent
CSV = REPO / "config" / "departements.csv"

METROPOLE = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
OUTRE_MER = ["971", "972", "973", "974", "975", "976"]


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_reference(CSV)


def test_every_departement_once(reference: Reference) -> None:
    codes = [d.code for d in reference.departements]
    assert len(codes) == 102
    assert len(set(codes)) == len(codes)
    assert set(codes) == set(METROPOLE) | set(OUTRE_MER)
    assert "20" not in codes  # Corsica has been 2A and 2B since 1976


def test_every_departement_has_a_name_and_a_known_region(reference: Reference) -> None:
    for departement in reference.departements:
        assert departement.name and departement.name == departement.name.strip()
        assert reference.region(departement.region) == departement.region
    assert len(reference.regions) == 19  # 13 metropolitan + 5 overseas + Saint-Pierre-et-Miquelon
    assert "Île-de-France" in reference.regions
    assert reference.regions == sorted(reference.regions)


@pytest.mark.parametrize(
    ("text", "code", "name", "region"),
    [
        pytest.param("1", "01", "Ain", "Auvergne-Rhône-Alpes", id="one-digit-gets-zero"),
        pytest.param("01", "01", "Ain", "Auvergne-Rhône-Alpes", id="two-digits"),
        pytest.param("2a", "2A", "Corse-du-Sud", "Corse", id="corsica-lowercase"),
        pytest.param("2B", "2B", "Haute-Corse", "Corse", id="corsica-upper"),
        pytest.param(974, "974", "La Réunion", "La Réunion", id="overseas-int"),
        pytest.param("974", "974", "La Réunion", "La Réunion", id="overseas-text"),
        pytest.param(69, "69", "Rhône", "Auvergne-Rhône-Alpes", id="int"),
        pytest.param(" 93 ", "93", "Seine-Saint-Denis", "Île-de-France", id="spaces"),
        pytest.param("976", "976", "Mayotte", "Mayotte", id="mayotte"),
    ],
)
def test_departement_by_code(reference: Reference, text: str | int, code: str, name: str, region: str) -> None:
    departement = reference.departement(text)
    assert departement is not None
    assert (departement.code, departement.name, departement.region) == (code, name, region)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("Rhône", "69", id="exact"),
        pytest.param("rhone", "69", id="no-accent-lowercase"),
        pytest.param("RHÔNE", "69", id="uppercase"),
        pytest.param("Côtes-d'Armor", "22", id="official-with-hyphen"),
        pytest.param("Côtes d'Armor", "22", id="space-instead-of-hyphen"),
        pytest.param("cotes d armor", "22", id="no-accent-no-apostrophe"),
        pytest.param("Côtes d’Armor", "22", id="typographic-apostrophe"),
        pytest.param("Seine Saint Denis", "93", id="no-hyphens"),
        pytest.param("corse du sud", "2A", id="corsica-by-name"),
        pytest.param("la reunion", "974", id="overseas-by-name"),
        pytest.param("Paris", "75", id="paris"),
    ],
)
def test_departement_by_name(reference: Reference, text: str, code: str) -> None:
    departement = reference.departement(text)
    assert departement is not None
    assert departement.code == code


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("99", id="no-99"),
        pytest.param("20", id="old-corsica-code"),
        pytest.param("2C", id="no-2C"),
        pytest.param("977", id="saint-barthelemy-is-not-listed"),
        pytest.param("Rhône-Alpes", id="old-region-name"),
        pytest.param("", id="empty"),
    ],
)
def test_unknown_departement(reference: Reference, text: str) -> None:
    assert reference.departement(text) is None


@pytest.mark.parametrize(
    ("text", "region"),
    [
        pytest.param("ile de france", "Île-de-France", id="no-accent-no-hyphen"),
        pytest.param("Île-de-France", "Île-de-France", id="exact"),
        pytest.param("Provence Alpes Cote d'Azur", "Provence-Alpes-Côte d'Azur", id="paca-plain"),
        pytest.param("PROVENCE-ALPES-CÔTE D’AZUR", "Provence-Alpes-Côte d'Azur", id="paca-upper-curly"),
        pytest.param("Grand-Est", "Grand Est", id="extra-hyphen"),
        pytest.param("centre val de loire", "Centre-Val de Loire", id="centre"),
        pytest.param("bretagne", "Bretagne", id="lowercase"),
    ],
)
def test_region(reference: Reference, text: str, region: str) -> None:
    assert reference.region(text) == region


@pytest.mark.parametrize(
    "text", [pytest.param("Rhône", id="departement-is-not-region"), pytest.param("Rhône-Alpes", id="old-region")]
)
def test_unknown_region(reference: Reference, text: str) -> None:
    assert reference.region(text) is None


def test_label_is_how_staff_write_it(reference: Reference) -> None:
    departement = reference.departement("69")
    assert departement is not None
    assert departement.label == "Rhône (69)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("7", "07", id="pad"),
        pytest.param("2b", "2B", id="corsica"),
        pytest.param("971", "971", id="overseas"),
        pytest.param("Rhône", None, id="name"),
        pytest.param("123", None, id="three-digits-not-overseas"),
        pytest.param("1.0", None, id="float-text"),
    ],
)
def test_normalise_code(text: str, expected: str | None) -> None:
    assert normalise_code(text) == expected


def test_malformed_csv_names_each_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "departements.csv"
    path.write_text(
        "code,nom,region\n"
        "01,Ain,Auvergne-Rhône-Alpes\n"
        "XX,Nulle part,Ailleurs\n"
        "69,Rhône\n"
        "75,Paris,Île-de-France\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as info:
        load_reference(path)
    problems = info.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("departements.csv line 3: expected code,nom,region")
    assert "Nulle part" in problems[0]
    assert problems[1].startswith("departements.csv line 4: expected code,nom,region")


def test_missing_csv(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="reference data not found"):
        load_reference(tmp_path / "absent.csv")


def test_small_valid_csv(tmp_path: Path) -> None:
    path = tmp_path / "departements.csv"
    path.write_text("code,nom,region\n1, Ain ,Auvergne-Rhône-Alpes\n", encoding="utf-8")
    reference = load_reference(path)
    (ain,) = reference.departements
    assert (ain.code, ain.name, ain.region) == ("01", "Ain", "Auvergne-Rhône-Alpes")
