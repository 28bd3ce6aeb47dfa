"""Aides-territoires aids as rows of Opportunités (pure: no I/O, no clock).

`map_aid` turns one aid of the API into the values of an Opportunités row (French column names; dates as
`datetime.date`, lists for multiple-choice columns) and the French problems met on the way. Nothing is
dropped silently: a category without a theme is reported and kept in the Description, a perimeter that
cannot be turned into a territory is reported and Territoires éligibles is left for staff to fill (never
widened to all of France).

The import owns the columns in `OWNED_COLUMNS` (everything it maps except Statut veille, which it sets only
when it creates a row); staff own the others (Statut veille, Stades éligibles, quartiers prioritaires,
montants, candidature collective).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from connectors.errors import ConfigurationError

from automations.domain.reference import FRANCE_WORDS, Departement, Reference, fold, normalise_code

SOURCE = "Aides-territoires"
SITE_URL = "https://aides-territoires.beta.gouv.fr"  # where an aid's page is, when it gives a relative link
NEW_WATCH_STATUS = "À qualifier"
CONFIG_FILE = "config/aides_territoires.toml"

TITLE = "Titre"
PARTNER = "Partenaire"
NATURE = "Nature"
TERRITORIES = "Territoires éligibles"
THEMES = "Thématiques"
EXPENSES = "Dépenses"
OPENS_ON = "Date d'ouverture"
DEADLINE = "Date limite"
RECURRENCE = "Récurrence"
LINK = "Lien"
SOURCE_COLUMN = "Source"
SOURCE_ID = "Identifiant source"
WATCH_STATUS = "Statut veille"
DESCRIPTION = "Description"

OWNED_COLUMNS: tuple[str, ...] = (
    TITLE, PARTNER, NATURE, TERRITORIES, THEMES, EXPENSES, OPENS_ON, DEADLINE, RECURRENCE, LINK,
    SOURCE_COLUMN, SOURCE_ID, DESCRIPTION,
)
RECURRENCES = ("Ponctuelle", "Permanente", "Récurrente")
EXPENSE_OF_DESTINATION = {
    fold("Dépenses de fonctionnement"): "Fonctionnement",
    fold("Dépenses d’investissement"): "Investissement",
}
LOAN_TYPES = frozenset({fold("Prêt"), fold("Avance récupérable")})
ENGINEERING_TYPES = frozenset({fold("Ingénierie technique"), fold("Ingénierie financière"),
                               fold("Ingénierie Juridique / administrative")})
OTHER_FINANCIAL = fold("Autre aide financière")
PRIZE_NAME = re.compile(r"(prix|trophees?|concours)\b")
FOUNDATION_NAME = re.compile(r"(fondation|fonds de dotation)\b")
DESCRIPTION_LIMIT = 1500  # characters of the aid's own description kept
ELIGIBILITY_LIMIT = 600

# Perimeter scales (Perimeter::SCALES_FOR_SEARCH in Aides-territoires), folded.
COUNTRY, CONTINENT, MAINLAND, OVERSEAS = "pays", "continent", "metropole", "outre mer"
REGION, DEPARTEMENT = "region", "departement"
LOCAL_SCALES = frozenset({"commune", "epci"})  # inside one département (or a few, for an EPCI)
LISTS_OF_PLACES = frozenset({"ad hoc", "bassin hydrographique", ""})  # names that may list régions/départements
EUROPE_WORDS = frozenset({"europe", "union europeenne"})
# Names Aides-territoires may use for a région or département, against config/departements.csv's.
PLACE_ALIASES = {
    "reunion": "La Réunion", "ile de la reunion": "La Réunion", "collectivite de corse": "Corse",
    "collectivite territoriale de corse": "Corse", "guyane francaise": "Guyane",
}
CODE_IN_LABEL = re.compile(r"^(?P<name>.*?)\s*\((?P<codes>[0-9AB ,]+)\)\s*$", re.IGNORECASE)
PLACES_SEPARATOR = re.compile(r"\s*(?:,|;|\s/\s|\s+et\s+|\s+&\s+)\s*")
COUNCIL_NAME = re.compile(
    r"^(?:conseil departemental|conseil general|departement)\s+(?:de la |de l |du |des |de |d )?(?P<name>.+)$"
)


class AidProblem(str):
    """A French sentence saying what could not be mapped; `column` and `value` say where, for data problems."""

    column: str
    value: str

    def __new__(cls, message: str, column: str = "", value: str = "") -> AidProblem:
        problem = super().__new__(cls, message)
        problem.column = column
        problem.value = value
        return problem


@dataclass(frozen=True)
class MappedAid:
    """One aid as an Opportunités row, with what could not be mapped."""

    source_id: str
    values: dict[str, Any]  # every column the import fills, Statut veille included (for a new row)
    problems: list[AidProblem] = field(default_factory=list)
    unresolved: frozenset[str] = frozenset()  # owned columns left empty because they could not be mapped
    updated_at: dt.datetime | None = None  # Aides-territoires' date_updated (else date_created)
    expired: bool = False  # its Date limite is before today (and it is not permanent)

    @property
    def title(self) -> str:
        return str(self.values[TITLE])

    @property
    def update_values(self) -> dict[str, Any]:
        """What to write into an existing row: the owned columns, except those the import could not map
        (so that what staff filled in by hand there stays)."""
        return {c: self.values[c] for c in OWNED_COLUMNS if c not in self.unresolved}


@dataclass(frozen=True)
class ImportConfig:
    """config/aides_territoires.toml, checked: the query, the category table and the perimeter table."""

    query: dict[str, Any]
    category_themes: dict[str, tuple[str, ...]]
    perimeter_territories: dict[str, tuple[str, ...]]


# -- the mapping ---------------------------------------------------------------------------------


def map_aid(
    aid: Mapping[str, Any],
    reference: Reference,
    category_themes: Mapping[str, str | Sequence[str] | None],
    today: dt.date,
    *,
    perimeter_territories: Mapping[str, str | Sequence[str]] | None = None,
    departements: Sequence[str] = (),
    site_url: str = SITE_URL,
) -> MappedAid:
    """The Opportunités row of one Aides-territoires aid, and the problems met (in French).

    `departements`: the codes of the départements whose Aides-territoires perimeter query gave this aid
    (see `territories_of`)."""
    problems: list[AidProblem] = []
    unresolved: set[str] = set()
    source_id = str(aid.get("id", "")).strip()

    title = _clean(aid.get("name")) or _clean(aid.get("short_title"))
    if not title:
        title = f"Aide Aides-territoires n° {source_id}"
        problems.append(AidProblem(f"Aide sans nom : Titre « {title} »", TITLE))

    financers = [_clean(f) for f in aid.get("financers") or [] if _clean(f)]
    partner = financers[0] if financers else None
    if partner is None:
        unresolved.add(PARTNER)
        problems.append(AidProblem("Aucun financeur indiqué par Aides-territoires : Partenaire laissé vide", PARTNER))

    nature, nature_problem = nature_of(aid, partner)
    if nature_problem is not None:
        problems.append(nature_problem)
        if nature is None:
            unresolved.add(NATURE)

    territories, territory_problem = territories_of(aid, reference, perimeter_territories or {}, departements)
    if territory_problem is not None:
        problems.append(territory_problem)
        unresolved.add(TERRITORIES)

    themes, unknown_categories, theme_problems = themes_of(aid.get("categories") or [], category_themes)
    problems.extend(theme_problems)
    if unknown_categories:
        unresolved.add(THEMES)

    expenses = []
    for destination in aid.get("destinations") or []:
        expense = EXPENSE_OF_DESTINATION.get(fold(destination))
        if expense is None:
            problems.append(AidProblem(
                f"Dépense « {destination} » inconnue (attendu : Dépenses de fonctionnement ou d'investissement)",
                EXPENSES, destination))
        elif expense not in expenses:
            expenses.append(expense)

    opens_on = _date(aid.get("start_date"), OPENS_ON, problems)
    deadline = _date(aid.get("submission_deadline"), DEADLINE, problems)
    predeposit = _date(aid.get("predeposit_date"), "Date de pré-dépôt", problems)
    if opens_on is not None and deadline is not None and opens_on > deadline:
        problems.append(AidProblem(
            f"Date d'ouverture ({opens_on:%d/%m/%Y}) après la Date limite ({deadline:%d/%m/%Y}) : à vérifier",
            OPENS_ON, opens_on.isoformat()))

    recurrence = None
    raw_recurrence = _clean(aid.get("recurrence"))
    if raw_recurrence:
        recurrence = next((r for r in RECURRENCES if fold(r) == fold(raw_recurrence)), None)
        if recurrence is None:
            unresolved.add(RECURRENCE)
            problems.append(AidProblem(
                f"Récurrence « {raw_recurrence} » inconnue (attendu : {', '.join(RECURRENCES)}) : laissée vide",
                RECURRENCE, raw_recurrence))

    link = link_of(aid, site_url)
    if link is None:
        unresolved.add(LINK)
        problems.append(AidProblem("Aucun lien vers l'aide : Lien laissé vide", LINK))

    description = description_of(aid, financers, unknown_categories, predeposit)

    values: dict[str, Any] = {
        TITLE: title,
        PARTNER: partner,
        NATURE: nature,
        TERRITORIES: territories,
        THEMES: themes,
        EXPENSES: expenses,
        OPENS_ON: opens_on,
        DEADLINE: deadline,
        RECURRENCE: recurrence,
        LINK: link,
        SOURCE_COLUMN: SOURCE,
        SOURCE_ID: source_id,
        DESCRIPTION: description,
        WATCH_STATUS: NEW_WATCH_STATUS,
    }
    expired = deadline is not None and deadline < today and recurrence != "Permanente"
    return MappedAid(source_id, values, problems, frozenset(unresolved), _updated_at(aid), expired)


def nature_of(aid: Mapping[str, Any], partner: str | None) -> tuple[str | None, AidProblem | None]:
    """The Nature of an aid (a choice of the schema) and, when it is a guess or missing, a problem."""
    name = fold(_clean(aid.get("name")))
    types = [_clean(t) for t in aid.get("aid_types") or [] if _clean(t)]
    folded = {fold(t) for t in types}
    if PRIZE_NAME.match(name):
        return "Prix", None
    if aid.get("is_call_for_project"):
        return "Appel à projets", None
    if fold("Subvention") in folded:
        if partner is not None and FOUNDATION_NAME.match(fold(partner)):
            return "Mécénat financier", None
        return "Subvention", None
    if folded & LOAN_TYPES:
        return "Prêt", None
    shown = ", ".join(types)
    if OTHER_FINANCIAL in folded:
        return "Subvention", AidProblem(
            f"Type d'aide « {shown} » classé en « Subvention » : à vérifier", NATURE, shown)
    if not types:
        return None, AidProblem("Type d'aide non indiqué par Aides-territoires : Nature laissée vide", NATURE)
    what = "une aide en ingénierie" if folded <= ENGINEERING_TYPES else "un type d'aide"
    return None, AidProblem(
        f"Type d'aide « {shown} » : {what} sans équivalent dans Nature (attendu : Subvention, Appel à projets, "
        "Prêt, Prix ou Mécénat) : Nature laissée vide", NATURE, shown)


def themes_of(
    categories: Sequence[str], category_themes: Mapping[str, str | Sequence[str] | None]
) -> tuple[list[str], list[str], list[AidProblem]]:
    """The Thématiques of an aid's categories, the categories the table does not know, and their problems.

    A table key is a full category label ("Solidarités / lien social / Alimentation") or the theme that
    starts it ("Solidarités / lien social"); the longest key that fits wins. An empty value means "no
    Thématique, on purpose"."""
    table = {fold(key): _themes(value) for key, value in category_themes.items()}
    themes: list[str] = []
    unknown: list[str] = []
    problems: list[AidProblem] = []
    for category in categories:
        label = _clean(category)
        if not label:
            continue
        found = _lookup_category(table, label)
        if found is None:
            if label not in unknown:
                unknown.append(label)
                problems.append(AidProblem(
                    f"Catégorie Aides-territoires « {label} » sans correspondance dans la table de correspondance "
                    f"(config) : ajoutez-la à [categories] dans {CONFIG_FILE} (vide si elle ne correspond à "
                    "aucune Thématique) ; elle est gardée dans la Description", THEMES, label))
            continue
        for theme in found:
            if theme not in themes:
                themes.append(theme)
    return themes, unknown, problems


def is_local(aid: Mapping[str, Any]) -> bool:
    """Whether the aid's perimeter is a commune or an EPCI (smaller than a département)."""
    return fold(_clean(aid.get("perimeter_scale"))) in LOCAL_SCALES


def territories_of(
    aid: Mapping[str, Any], reference: Reference, perimeter_territories: Mapping[str, str | Sequence[str]],
    departements: Sequence[str] = (),
) -> tuple[list[str], AidProblem | None]:
    """Territoires éligibles as staff write them ("France", a région's name, a département's code) for the
    aid's perimeter; when the perimeter cannot be placed, no territory and a problem (never all of France).

    `departements` are the départements whose perimeter query on Aides-territoires gave the aid: a
    département's query gives the aids of the perimeters it lies in and of those inside it, so a commune's
    or an EPCI's aid it gave lies in it. They place such aids (and, failing anything better, an ad-hoc area
    or a basin the query gave)."""
    label = _clean(aid.get("perimeter"))
    scale = _clean(aid.get("perimeter_scale"))
    kind = fold(scale)
    shown = f"« {label} » ({scale})" if scale else f"« {label} »"
    consequence = (
        "Territoires éligibles laissé vide : à remplir à la main (vide, l'opportunité serait proposée à toutes "
        f"les cantines), ou ajouter ce périmètre à [perimeters] dans {CONFIG_FILE}"
    )
    if not label:
        return [], AidProblem(f"Périmètre non indiqué par Aides-territoires : {consequence}", TERRITORIES)
    configured = _lookup_perimeter(perimeter_territories, label)
    if configured is not None:
        return configured, None
    if kind == COUNTRY:
        if fold(label) in FRANCE_WORDS:
            return ["France"], None
        return [], AidProblem(f"Périmètre {shown} hors de France : {consequence}", TERRITORIES, label)
    if kind == CONTINENT:
        if fold(label) in EUROPE_WORDS:  # an aid open across Europe is open everywhere in France
            return ["France"], None
        return [], AidProblem(f"Périmètre {shown} hors d'Europe : {consequence}", TERRITORIES, label)
    if kind == MAINLAND:
        return ["France métropolitaine"], None
    if kind == OVERSEAS:
        return [d.code for d in reference.departements if d.code.startswith("97")], None
    if kind == REGION:
        region = _region(reference, label)
        if region is not None:
            return [region], None
        return [], AidProblem(f"Périmètre {shown} : région inconnue. {consequence}", TERRITORIES, label)
    if kind == DEPARTEMENT:
        departement = _departement(reference, label)
        if departement is not None:
            return [departement.code], None
        region = _region(reference, label)  # "Corse", the former département 20
        if region is not None:
            return [region], None
        return [], AidProblem(f"Périmètre {shown} : département inconnu. {consequence}", TERRITORIES, label)
    found = [d.code for code in departements if (d := reference.departement(code)) is not None]
    found = list(dict.fromkeys(found))
    if kind in LOCAL_SCALES and found:
        return found, None
    # A commune, an EPCI, a basin, an ad-hoc area: the département(s) it lies in, when something says which.
    codes = _codes_in_label(reference, label)
    if codes:
        return codes, None
    if kind in LISTS_OF_PLACES:
        listed = _listed_places(reference, label)
        if listed:
            return listed, None
    council = _council_departement(reference, aid.get("financers") or [])
    if council is not None:
        return [council.code], None
    if found:
        return found, None
    return [], AidProblem(f"Périmètre {shown} : département introuvable. {consequence}", TERRITORIES, label)


def link_of(aid: Mapping[str, Any], site_url: str = SITE_URL) -> str | None:
    """The aid's page on Aides-territoires (always there, and it shows the contact and the application link)."""
    site = site_url.rstrip("/") + "/"
    url = _clean(aid.get("url"))
    if url:
        return urljoin(site, url)
    slug = _clean(aid.get("slug"))
    if slug:
        return urljoin(site, f"aides/{slug}/")
    return _clean(aid.get("application_url")) or _clean(aid.get("origin_url")) or None


def description_of(
    aid: Mapping[str, Any], financers: Sequence[str], unknown_categories: Sequence[str], predeposit: dt.date | None
) -> str:
    """A short French text: the aid's description and eligibility (as text, shortened), then the facts the
    other columns cannot hold."""
    blocks = []
    text = shorten(html_to_text(aid.get("description") or ""), DESCRIPTION_LIMIT)
    if text:
        blocks.append(text)
    eligibility = shorten(html_to_text(aid.get("eligibility") or ""), ELIGIBILITY_LIMIT)
    if eligibility:
        blocks.append(f"Éligibilité : {eligibility}")
    facts = []
    if financers:
        facts.append(f"Financeurs : {', '.join(financers)}")
    perimeter = _clean(aid.get("perimeter"))
    if perimeter:
        scale = _clean(aid.get("perimeter_scale"))
        facts.append(f"Périmètre : {perimeter}" + (f" ({scale})" if scale else ""))
    types = [_clean(t) for t in aid.get("aid_types") or [] if _clean(t)]
    if types:
        facts.append(f"Types d'aide : {', '.join(types)}")
    rate = _rate(aid.get("subvention_rate_lower_bound"), aid.get("subvention_rate_upper_bound"))
    if rate:
        facts.append(f"Taux de subvention : {rate}")
    for key, label in (("loan_amount", "Montant du prêt"), ("recoverable_advance_amount", "Avance récupérable")):
        amount = _euros(aid.get(key))
        if amount:
            facts.append(f"{label} : {amount}")
    if predeposit is not None:
        facts.append(f"Date de pré-dépôt : {predeposit:%d/%m/%Y}")
    application = _clean(aid.get("application_url"))
    if application:
        facts.append(f"Candidater : {application}")
    origin = _clean(aid.get("origin_url"))
    if origin and origin != application:
        facts.append(f"Site du financeur : {origin}")
    if unknown_categories:
        facts.append(f"Catégories Aides-territoires sans correspondance : {' ; '.join(unknown_categories)}")
    facts.append(f"Source : Aides-territoires (Licence Ouverte), aide n° {_clean(str(aid.get('id', '')))}")
    blocks.append("\n".join(facts))
    return "\n\n".join(blocks)


# -- the configuration file ----------------------------------------------------------------------

QUERY_KEYS = frozenset({
    "organization_type_slugs", "category_slugs", "category_ids", "perimeter_id", "apply_before",
    "published_after", "call_for_projects_only", "aid_type_group_slug", "aid_type_slugs", "aid_step_slugs",
    "aid_destination_slugs", "aid_recurrence_slug", "backer_ids", "keyword", "is_charged", "european_aid_slug",
})
CONFIG_SECTIONS = frozenset({"query", "categories", "perimeters"})


def import_config(
    data: Mapping[str, Any], *, theme_choices: Sequence[str], reference: Reference, source: str = CONFIG_FILE
) -> ImportConfig:
    """Check the parsed TOML of config/aides_territoires.toml; every problem is reported at once."""
    problems: list[str] = []
    for unknown in sorted(set(data) - CONFIG_SECTIONS):
        problems.append(f"{source}: unknown section [{unknown}] (expected {', '.join(sorted(CONFIG_SECTIONS))})")
    query: dict[str, Any] = {}
    for key, value in (data.get("query") or {}).items():
        if key not in QUERY_KEYS:
            problems.append(f"{source}: [query] {key} is not an Aides-territoires filter the import knows "
                            f"({', '.join(sorted(QUERY_KEYS))})")
        elif not _is_filter_value(value):
            problems.append(f"{source}: [query] {key} must be text, a number, true/false, a date or a list of text")
        else:
            query[key] = list(value) if isinstance(value, list) else value
    categories: dict[str, tuple[str, ...]] = {}
    for key, value in (data.get("categories") or {}).items():
        themes = _themes(value) if isinstance(value, (str, list)) else None
        if themes is None or not all(isinstance(t, str) for t in themes):
            problems.append(f"{source}: [categories] « {key} » must be a Thématique, a list of them, or \"\"")
            continue
        wrong = [t for t in themes if t not in theme_choices]
        if wrong:
            problems.append(f"{source}: [categories] « {key} » = « {', '.join(wrong)} » is not a Thématique of "
                            f"Opportunités (expected one of: {', '.join(theme_choices)})")
            continue
        categories[key] = themes
    perimeters: dict[str, tuple[str, ...]] = {}
    for key, value in (data.get("perimeters") or {}).items():
        places = [value] if isinstance(value, str) else value if isinstance(value, list) else None
        if not places or not all(isinstance(p, str) for p in places):
            problems.append(f"{source}: [perimeters] « {key} » must be a territory or a list of territories")
            continue
        resolved = [_territory_text(reference, p) for p in places]
        wrong = [p for p, r in zip(places, resolved) if r is None]
        if wrong:
            problems.append(f"{source}: [perimeters] « {key} »: « {', '.join(wrong)} » is not France, a région "
                            "or a département (by name or number)")
            continue
        perimeters[key] = tuple(dict.fromkeys(r for r in resolved if r is not None))
    if problems:
        raise ConfigurationError(problems)
    return ImportConfig(query, categories, perimeters)


# -- text ----------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                        "blockquote", "section", "article", "hr"})
    SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self.BLOCKS or tag == "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text of an HTML fragment: paragraphs on their own lines, list items as "• …", entities decoded."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(line for line in lines if line and line != "•")
    return text.strip()


def shorten(text: str, limit: int) -> str:
    """`text` cut at a word boundary before `limit` characters, with "…" when something was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.\n") + "…"


# -- helpers -------------------------------------------------------------------------------------


def _clean(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _themes(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    return tuple(v.strip() if isinstance(v, str) else v for v in value if not isinstance(v, str) or v.strip())


def _lookup_category(table: Mapping[str, tuple[str, ...]], label: str) -> tuple[str, ...] | None:
    folded = fold(label)
    if folded in table:
        return table[folded]
    best: str | None = None
    for key in table:
        if folded.startswith(key + " / ") and (best is None or len(key) > len(best)):
            best = key
    return table[best] if best is not None else None


def _lookup_perimeter(table: Mapping[str, str | Sequence[str]], label: str) -> list[str] | None:
    folded = fold(label)
    for key, value in table.items():
        if fold(key) == folded:
            return [value] if isinstance(value, str) else list(value)
    return None


def _canonical(label: str) -> str:
    return PLACE_ALIASES.get(fold(label), label)


def _region(reference: Reference, label: str) -> str | None:
    name = CODE_IN_LABEL.sub(r"\g<name>", label) if CODE_IN_LABEL.match(label) else label
    return reference.region(_canonical(name))


def _departement(reference: Reference, label: str) -> Departement | None:
    """A département from "Rhône", "Rhône (69)", "69" or "La Réunion"."""
    match = CODE_IN_LABEL.match(label)
    if match:
        codes = [c for c in re.split(r"[\s,]+", match["codes"]) if c]
        if len(codes) == 1 and normalise_code(codes[0]) is not None:
            found = reference.departement(codes[0])
            if found is not None:
                return found
        label = match["name"]
    return reference.departement(_canonical(label))


def _postcode_departement(reference: Reference, code: str) -> Departement | None:
    """The département of a postcode or an INSEE commune code (69001, 69123, 2A004, 20200, 97400)."""
    code = code.upper()
    if not re.fullmatch(r"\d{5}|2[AB]\d{3}", code):
        return None
    if code[:2] in ("2A", "2B"):
        return reference.departement(code[:2])
    if code.startswith("20"):  # Corsican postcodes: 200xx-201xx in Corse-du-Sud, 202xx and 206xx in Haute-Corse
        return reference.departement("2A" if int(code) < 20200 else "2B")
    if code.startswith("97"):
        return reference.departement(code[:3])
    return reference.departement(code[:2])


def _codes_in_label(reference: Reference, label: str) -> list[str]:
    """Départements named by the codes in brackets ending a label: "Lyon (69)", "Bastia (20200)"."""
    match = CODE_IN_LABEL.match(label)
    if not match:
        return []
    found: list[str] = []
    for code in (c for c in re.split(r"[\s,]+", match["codes"]) if c):
        departement = reference.departement(code) if normalise_code(code) else _postcode_departement(reference, code)
        if departement is None:
            return []
        if departement.code not in found:
            found.append(departement.code)
    return found


def _territory_text(reference: Reference, text: str) -> str | None:
    """A territory as the column holds it: "France", "France métropolitaine", a région, a département's code."""
    territory = reference.territory(_canonical(text.strip()))
    if territory is None:
        return None
    return territory.code


def _listed_places(reference: Reference, label: str) -> list[str]:
    """The régions and départements an area's name lists ("Auvergne-Rhône-Alpes et Bourgogne-Franche-Comté"),
    only when every part of the name is one."""
    parts = [p for p in PLACES_SEPARATOR.split(label) if p.strip()]
    places = [_territory_text(reference, part) for part in parts]
    if not places or any(p is None for p in places):
        return []
    return list(dict.fromkeys(p for p in places if p is not None))


def _council_departement(reference: Reference, financers: Sequence[str]) -> Departement | None:
    """The département whose council funds the aid ("Département du Rhône"), when exactly one does."""
    found: dict[str, Departement] = {}
    for financer in financers:
        match = COUNCIL_NAME.match(fold(_clean(financer)))
        if match:
            departement = reference.departement(match["name"])
            if departement is not None:
                found[departement.code] = departement
    return next(iter(found.values())) if len(found) == 1 else None


def _date(value: Any, column: str, problems: list[AidProblem]) -> dt.date | None:
    text = _clean(value)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        problems.append(AidProblem(
            f"{column} « {text} » n'est pas une date valide (attendu : AAAA-MM-JJ) : laissée vide", column, text))
        return None


def _updated_at(aid: Mapping[str, Any]) -> dt.datetime | None:
    for key in ("date_updated", "date_created"):
        text = _clean(aid.get(key))
        if text:
            try:
                return dt.datetime.fromisoformat(text)
            except ValueError:
                continue
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _shown(number: float) -> str:
    return f"{number:g}".replace(".", ",")


def _rate(lower: Any, upper: Any) -> str | None:
    low, high = _number(lower), _number(upper)
    if low is not None and high is not None:
        return f"de {_shown(low)} à {_shown(high)} %" if low != high else f"{_shown(low)} %"
    if high is not None:
        return f"jusqu'à {_shown(high)} %"
    if low is not None:
        return f"au moins {_shown(low)} %"
    return None


def _euros(value: Any) -> str | None:
    number = _number(value)
    if number is None:
        return None
    whole = f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"
    return whole.replace(",", " ").replace(".", ",") + " €"


def _is_filter_value(value: Any) -> bool:
    if isinstance(value, (str, int, bool, dt.date)):
        return True
    return isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value)
