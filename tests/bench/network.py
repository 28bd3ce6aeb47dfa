"""A generated network of N cantines for the scale benchmarks, built from the demo's shapes
(`automations.demo.demo_rows`): N cantines spread over the départements, 5,000 opportunités whatever
N (a network sees a few thousand calls, not 50N: years of them, a quarter still open, most of them
local to a département or a région, a few national), 2N candidatures, N/4 conventions with their
échéances, 60 months of Indicateurs per open cantine, partners, offers and their déclinaisons,
questions and visits. A few cantines keep their figures in a workbook of their own, synced into the
hub. Deterministic for a given N and day; every link names a row that exists."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from automations.demo import FIGURE_COLUMNS, NEEDS, OPPORTUNITY_KINDS, THEMES, demo_rows

Rows = list[dict[str, Any]]
DEPARTEMENTS = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "974"]
REGIONS = ["Auvergne-Rhône-Alpes", "Bretagne", "Occitanie", "Grand Est", "Hauts-de-France", "Île-de-France",
           "Nouvelle-Aquitaine", "Pays de la Loire", "Provence-Alpes-Côte d'Azur", "Normandie"]
STAFF = ("camille@petites-cantines.example", "sacha@petites-cantines.example", "nour@petites-cantines.example")


@dataclass(frozen=True)
class Network:
    """The hub's rows by table code, and the rows of the cantines that keep their own workbook."""

    rows: dict[str, Rows]
    cantine_books: dict[str, Rows]  # cantine name → its Indicateurs rows (FIGURE_COLUMNS)

    def sizes(self) -> str:
        return ", ".join(f"{code} {len(rows)}" for code, rows in self.rows.items())


def month_starts(today: dt.date, count: int) -> list[dt.date]:
    """The first days of the `count` months before today's, oldest first."""
    first = today.replace(day=1)
    months = []
    for back in range(count, 0, -1):
        index = first.year * 12 + first.month - 1 - back
        months.append(dt.date(index // 12, index % 12 + 1, 1))
    return months


def network_rows(cantines: int, today: dt.date, *, opportunities: int = 5000, months: int = 60,
                 books: int | None = None) -> Network:
    """Every table's rows for a network of `cantines` cantines on `today` (deterministic)."""
    n = cantines
    rng = random.Random(n)
    demo = demo_rows(today)

    def day(offset: int) -> dt.date:
        return today + dt.timedelta(days=offset)

    rows: dict[str, Rows] = {code: [] for code in demo}
    template = demo["cantines"][0]
    for i in range(n):
        opened = i % 5 != 4
        rows["cantines"].append({
            **template, "Nom": f"Cantine {i:04d}", "Statut": "Ouverte" if opened else "En montage",
            "Association": f"Association Cantine {i:04d}", "Ville": f"Ville {i % 400}",
            "Code postal": "", "Département": DEPARTEMENTS[i % len(DEPARTEMENTS)], "Quartier prioritaire": i % 3 == 0,
            "Thématiques": rng.sample(THEMES, 3), "Besoins": rng.sample(NEEDS, 2),
            "Budget annuel": Decimal(rng.randrange(30, 260) * 1000), "Responsable": f"Responsable {i:04d}",
            "Email responsable": f"cantine{i:04d}@petites-cantines.example",
            "Emails en copie": [f"bureau{i:04d}@petites-cantines.example"] if i % 3 == 0 else [],
            "Reçoit les emails": i % 10 != 9, "Date d'ouverture": day(-rng.randrange(200, 3000)) if opened else None,
        })
    names = [c["Nom"] for c in rows["cantines"]]
    open_names = [c["Nom"] for c in rows["cantines"] if c["Statut"] == "Ouverte"]

    partner_template = demo["partenaires"][0]
    for i in range(20 + n // 5):
        rows["partenaires"].append({
            **partner_template, "Nom": f"Partenaire {i:04d}", "Thématiques": rng.sample(THEMES, 2),
            "Territoires": [rng.choice(["France", *REGIONS])], "Responsable": STAFF[i % 3],
            "Contact": f"Contact {i}", "Email contact": f"contact{i}@partenaire{i}.example",
            "Date prochaine action": day(rng.randrange(-10, 60)),
        })
    partners = [p["Nom"] for p in rows["partenaires"]]

    opportunity_template = demo["opportunites"][0]
    for i in range(opportunities):
        title, nature = OPPORTUNITY_KINDS[i % len(OPPORTUNITY_KINDS)]
        # most calls are local (a département or a région); a few are national
        territory = "France" if i % 250 == 0 else (rng.choice(REGIONS) if i % 10 == 1 else rng.choice(DEPARTEMENTS))
        current = i % 4 == 0  # the others: past calls, kept for the record
        low = Decimal(rng.choice([1000, 3000, 5000, 10000]))
        deadline = day(rng.randrange(10, 240) if current else -rng.randrange(1, 1500))
        rows["opportunites"].append({
            **opportunity_template, "Titre": f"{title} n° {i:05d}", "Partenaire": partners[i % len(partners)],
            "Nature": nature, "Territoires éligibles": [territory], "Réservé aux quartiers prioritaires": i % 7 == 3,
            "Stades éligibles": [], "Thématiques": rng.sample(THEMES, 2), "Montant min": low,
            "Montant max": low * 4, "Date d'ouverture": min(day(-5), deadline - dt.timedelta(days=60)),
            "Date limite": deadline,
            "Récurrence": "Ponctuelle",
            "Candidature collective possible": i % 4 == 0, "Lien": f"https://appels.example/{i}",
            "Statut veille": ("Pertinente" if i % 5 else "À qualifier") if current else "Archivée",
            "Description": f"{title} n° {i}.",
        })
    titles = [o["Titre"] for o in rows["opportunites"]]

    statuses = ["Acceptée", "Refusée", "En rédaction", "Déposée", "En instruction", "Sans suite", "À l'étude"]
    for i in range(2 * n):
        status = statuses[i % len(statuses)] if i >= n // 4 else "Acceptée"
        beneficiaries = [open_names[(i + k) % len(open_names)] for k in range(1 + i % 2)]
        requested = Decimal(rng.randrange(5, 60) * 1000)
        rows["candidatures"].append({
            "Intitulé": f"Candidature {i:05d}", "Opportunité": titles[(i * 7) % len(titles)],
            "Porteur": "Réseau" if len(beneficiaries) > 1 else beneficiaries[0],
            "Cantines bénéficiaires": beneficiaries, "Type": "Collective" if len(beneficiaries) > 1 else "Individuelle",
            "Statut": status, "Responsable": STAFF[i % 3],
            "Date limite interne": day(rng.randrange(3, 40)) if status in ("En rédaction", "À l'étude") else None,
            "Date de dépôt": day(-rng.randrange(30, 300)) if status not in ("En rédaction", "À l'étude") else None,
            "Montant demandé": requested,
            "Montant accordé": requested * Decimal("0.8") if status == "Acceptée" else None,
            "Date de décision": day(-rng.randrange(20, 250)) if status in ("Acceptée", "Refusée") else None,
        })

    kinds = ["Convention annuelle", "Convention pluriannuelle (CPO)", "Convention de mécénat", "Décision attributive"]
    echeance_kinds = ["Bilan intermédiaire", "Bilan final", "Versement", "Rapport d'activité", "Visibilité partenaire"]
    for i, application in enumerate(rows["candidatures"][: n // 4]):
        start = day(-rng.randrange(60, 330))
        reference = f"CONV-{start.year}-{i + 1:04d}"
        rows["conventions"].append({
            "Référence": reference, "Partenaire": partners[i % len(partners)], "Candidature": application["Intitulé"],
            "Cantines": application["Cantines bénéficiaires"], "Type": kinds[i % len(kinds)],
            "Date de signature": start - dt.timedelta(days=15), "Date de début": start,
            "Date de fin": start + dt.timedelta(days=364), "Montant total": application["Montant accordé"],
            "Engagements": "Logo du partenaire sur les menus", "Statut": "En cours",
        })
        for k in range(4):
            kind = echeance_kinds[(i + k) % len(echeance_kinds)]
            due = day(rng.randrange(-20, 345))  # a year of échéances
            rows["echeances"].append({
                "Intitulé": f"{kind} – {reference}", "Convention": reference,
                "Cantine": application["Cantines bénéficiaires"][0], "Type": kind, "Date d'échéance": due,
                "Date interne": None, "Montant": Decimal(5000) if kind == "Versement" else None,
                "Statut": "À venir", "Responsable": STAFF[(i + k) % 3], "Fait le": None,
            })

    offer_template = demo["offres"][1]
    for i in range(10 + n // 50):
        rows["offres"].append({**offer_template, "Nom": f"Offre {i:03d}", "Partenaire": partners[i % len(partners)],
                               "Territoires": [REGIONS[i % len(REGIONS)] if i % 3 else "France"], "Places": 10})
    for i in range(n // 2):
        offer = rows["offres"][i % len(rows["offres"])]
        rows["declinaisons"].append({
            "Offre": offer["Nom"], "Cantine": open_names[i % len(open_names)],
            "Statut": ["Réalisée", "Planifiée", "Acceptée"][i % 3], "Date prévue": day(-40 + i % 80),
            "Valeur valorisée": offer["Valeur unitaire"] if i % 3 == 0 else None, "Reçu fiscal émis": i % 6 == 0,
        })

    figures: dict[str, Rows] = {}
    for index, cantine in enumerate(open_names):
        size = 300 + (index * 37) % 1100
        own = figures.setdefault(cantine, [])
        for month in month_starts(today, months):
            meals = size * (45 if month.month == 8 else 100) // 100 + index % 50
            own.append({"Cantine": cantine, "Mois": month, "Repas servis": meals, "Convives": meals * 2 // 3,
                        "Bénévoles actifs": 8 + index % 37, "Heures de bénévolat": Decimal(80 + index % 500),
                        "Animations": index % 8, "Produits locaux (%)": Decimal(25 + index % 60) / 100})
        rows["indicateurs"].extend(own)

    questions_template = demo["questions"][0]
    for i in range(n // 2):
        rows["questions"].append({**questions_template, "Cantine": names[(i * 2) % n], "Posée le": day(-(i % 25)),
                                  "Statut": "Résolue" if i % 3 == 0 else "Ouverte", "Responsable": STAFF[i % 3],
                                  "Répondue le": day(-(i % 25) + 2) if i % 3 == 0 else None})
    for i, cantine in enumerate(open_names):
        rows["visites"].append({"Cantine": cantine, "Date": day(-(5 + i % 300)), "Par": "Camille", "Notes": "Visite."})

    books = max(3, n // 20) if books is None else books
    cantine_books: dict[str, Rows] = {}
    for cantine in open_names[:books]:
        own = [{c: r[c] for c in FIGURE_COLUMNS} for r in figures[cantine]]
        own.append({**own[-1], "Mois": today.replace(day=1), "Repas servis": int(own[-1]["Repas servis"]) + 3})
        cantine_books[cantine] = own
    return Network(rows, cantine_books)


def book_path(folder: Path, cantine: str) -> Path:
    return folder / "cantines" / f"{cantine.lower().replace(' ', '-')}.xlsx"


def sync_declarations(folder: Path, network: Network) -> str:
    """The settings' [[syncs]] blocks: each workbook-keeping cantine's figures into the hub."""
    return "".join(
        f'\n[[syncs]]\nname = "indicateurs-{book_path(folder, name).stem}"\n'
        f'source = {{ workbook = "{book_path(folder, name)}", tab = "Indicateurs" }}\n'
        f'target = "indicateurs"\nkey = ["Cantine", "Mois"]\nconstants = {{ Cantine = "{name}" }}\n'
        for name in network.cantine_books
    )
