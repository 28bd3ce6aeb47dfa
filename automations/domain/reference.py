"""Reference data: French départements and their régions, looked up by code or by name."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connectors.errors import ConfigurationError


@dataclass(frozen=True)
class Departement:
    code: str  # "01", "2A", "69", "974"
    name: str
    region: str

    @property
    def label(self) -> str:
        """As staff write it: "Rhône (69)"."""
        return f"{self.name} ({self.code})"


def fold(text: str) -> str:
    """A form of a place name that ignores case, accents, hyphens and apostrophes ("Ile de france")."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[-'’_.]", " ", text.casefold())
    return " ".join(text.split())


def normalise_code(text: str) -> str | None:
    """ "1" → "01", "2a" → "2A", "974" → "974"; None when it is not shaped like a code."""
    text = str(text).strip().upper()
    if re.fullmatch(r"\d", text):
        return "0" + text
    if re.fullmatch(r"\d{2}|2[AB]|97\d", text):
        return text
    return None


FRANCE_WORDS = {"france", "national", "nationale", "france entiere", "toute la france"}
METROPOLE_WORDS = {"france metropolitaine", "metropole", "hexagone"}


@dataclass(frozen=True)
class Territory:
    """Where an opportunity or an offer applies: all of France, mainland France, a région or a département."""

    kind: str  # "france", "metropole", "region", "departement"
    code: str  # "France", "France métropolitaine", the région's name, or the département's code
    label: str  # as staff read it: "Rhône (69)"

    def covers(self, departement: Departement) -> bool:
        if self.kind == "france":
            return True
        if self.kind == "metropole":
            return not departement.code.startswith("97")
        if self.kind == "region":
            return departement.region == self.code
        return departement.code == self.code


FRANCE = Territory("france", "France", "France")


@dataclass(frozen=True)
class Reference:
    """Every département, and the régions they make up."""

    departements: tuple[Departement, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {d.code: d for d in self.departements})
        object.__setattr__(self, "_by_name", {fold(d.name): d for d in self.departements})
        object.__setattr__(self, "_regions", {fold(d.region): d.region for d in self.departements})

    def departement(self, text: str | int) -> Departement | None:
        """The département named or numbered `text` ("69", 69, "Rhône", "rhone"), or None."""
        code = normalise_code(str(text))
        if code is not None:
            return self._by_code.get(code)  # type: ignore[attr-defined]
        return self._by_name.get(fold(str(text)))  # type: ignore[attr-defined]

    def region(self, text: str) -> str | None:
        """The région's official name for `text` ("ile de france" → "Île-de-France"), or None."""
        return self._regions.get(fold(text))  # type: ignore[attr-defined]

    def territory(self, text: str | int) -> Territory | None:
        """ "France", "France métropolitaine", a région, or a département (name or number); else None."""
        folded = fold(str(text))
        if folded in FRANCE_WORDS:
            return FRANCE
        if folded in METROPOLE_WORDS:
            return Territory("metropole", "France métropolitaine", "France métropolitaine")
        region = self.region(str(text))
        if region is not None:
            return Territory("region", region, region)
        departement = self.departement(text)
        if departement is not None:
            return Territory("departement", departement.code, departement.label)
        return None

    @property
    def regions(self) -> list[str]:
        return sorted(set(self._regions.values()))  # type: ignore[attr-defined]


def reference_from_rows(rows: Iterable[Mapping[str, str | None]], source: str) -> Reference:
    """The départements from the rows of `departements.csv` (code, nom, region), checked."""
    problems = []
    departements = []
    for number, row in enumerate(rows, start=2):
        code = normalise_code(row.get("code") or "")
        if code is None or not row.get("nom") or not row.get("region"):
            problems.append(f"{source} line {number}: expected code,nom,region, got {row}")
            continue
        departements.append(Departement(code, row["nom"].strip(), row["region"].strip()))
    if problems:
        raise ConfigurationError(problems)
    return Reference(tuple(departements))
