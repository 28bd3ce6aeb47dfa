"""The demo dataset: fictional cantines in real French cities, partners, opportunities, applications,
agreements and their échéances, twelve months of figures, questions and visits, plus a handful of
deliberate data problems. Deterministic for a given day; dates are relative to that day, so every
demo run has reminders due."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pathlib import Path

from connectors.tables.base import Table, TableSpec
from connectors.tables.workbook import WorkbookStore

from automations.domain.business_days import business_day_on_or_after, is_business_day
from automations.domain.french import date_longue, pluriel
from automations.settings import Settings
from automations.cycle.writeback import write_tolerantly

Rows = list[dict[str, Any]]
SEED = 20160101  # the first Petite Cantine opened in 2016
DOMAIN = "petites-cantines.example"
STAFF = ("camille@" + DOMAIN, "sacha@" + DOMAIN, "nour@" + DOMAIN)
THEMES = [
    "Alimentation durable", "Lien social", "Lutte contre l'isolement", "Insertion", "Anti-gaspillage",
    "Éducation à l'alimentation", "Culture", "Économie sociale et solidaire",
]
NEEDS = ["Fonctionnement", "Investissement", "Équipement de cuisine", "Emploi", "Formation", "Communication"]

# name, city, postcode, département, in a quartier prioritaire
OPEN_CANTINES = [
    ("Cantine des Canuts", "Lyon", "69004", "69", False),
    ("La Tablée de Vaise", "Lyon", "69009", "69", False),
    ("Cantine du Port", "Marseille", "13002", "13", True),
    ("Le Chaudron Partagé", "Villeurbanne", "69100", "69", True),
    ("La Marmite des Chartrons", "Bordeaux", "33300", "33", False),
    ("Cantine Bellevue", "Nantes", "44100", "44", True),
    ("La Louche Lilloise", "Lille", "59000", "59", False),
    ("Cantine des Capucins", "Rennes", "35000", "35", False),
    ("Le Banquet d'Ajaccio", "Ajaccio", "20000", "2A", False),
    ("Cantine Péi", "Saint-Denis", "97400", "974", True),
    ("La Gamelle Toulousaine", "Toulouse", "31000", "31", False),
    ("Cantine du Neudorf", "Strasbourg", "67100", "67", False),
    ("La Cuillère de Belleville", "Paris", "75020", "75", True),
    ("Cantine des Forges", "Saint-Étienne", "42000", "42", True),
]
PROJECT_CANTINES = [
    ("La Table de Bastia", "Bastia", "20200", "2B", False),
    ("La Popote Grenobloise", "Grenoble", "38000", "38", False),
    ("Cantine de l'Écusson", "Montpellier", "34000", "34", False),
    ("La Moutarde Solidaire", "Dijon", "21000", "21", False),
    ("Cantine des Volcans", "Clermont-Ferrand", "63000", "63", True),
    ("La Table d'Anjou", "Angers", "49000", "49", False),
    ("Cantine des Tanneurs", "Tours", "37000", "37", False),
    ("La Mirabelle", "Metz", "57000", "57", True),
    ("Cantine du Gros-Horloge", "Rouen", "76000", "76", False),
    ("La Marmite Stanislas", "Nancy", "54000", "54", False),
    ("Cantine du Clain", "Poitiers", "86000", "86", False),
    ("La Table du Ponant", "Brest", "29200", "29", False),
    ("Cantine Kaz", "Pointe-à-Pitre", "97110", "971", True),
    ("La Comtoise", "Besançon", "25000", "25", False),
    ("Cantine de la Prairie", "Caen", "14000", "14", False),
]
# name, type, statut, territory
PARTNERS = [
    ("Fondation Terre Commune", "Fondation", "Partenaire actif", "France"),
    ("Fondation Pain Partagé", "Fondation", "Partenaire actif", "France"),
    ("Fonds Cuisine & Cité", "Fonds de dotation", "En relation", "France"),
    ("Fondation Les Mains Vertes", "Fondation", "Qualifié", "France"),
    ("Coopérative BioSaveurs", "Entreprise", "Partenaire actif", "France"),
    ("Boulangeries Levain d'Or", "Entreprise", "Partenaire actif", "Auvergne-Rhône-Alpes"),
    ("Maraîchers Associés du Sud", "Association", "En relation", "Provence-Alpes-Côte d'Azur"),
    ("Région Horizon Solidaire", "Collectivité", "Partenaire actif", "Auvergne-Rhône-Alpes"),
    ("Département Cœur de Loire", "Collectivité", "En relation", "Loire-Atlantique"),
    ("Métropole des Deux Rives", "Collectivité", "Partenaire actif", "Gironde"),
    ("Agence Alimentation Demain", "Établissement public", "Qualifié", "France"),
    ("Préfecture – Fonds Cohésion", "État", "Partenaire actif", "France"),
    ("Fondation Rivages", "Fondation", "À qualifier", "Bretagne"),
    ("Fonds Nord Solidaire", "Fonds de dotation", "Qualifié", "Hauts-de-France"),
    ("Mutuelle Entre Voisins", "Entreprise", "Identifié", "France"),
    ("Fondation Île Bleue", "Fondation", "En relation", "La Réunion"),
    ("Épiceries du Lendemain", "Entreprise", "Partenaire actif", "France"),
    ("Fondation Corse Ensemble", "Fondation", "À qualifier", "Corse"),
    ("Caisse Solidaire Occitane", "Entreprise", "Identifié", "Occitanie"),
    ("Fondation Grand Est Partage", "Fondation", "Qualifié", "Grand Est"),
]
# People: cantine managers and partner contacts, by index (no draw from the seeded generator, so
# that every other demo value stays as it was).
FIRST_NAMES = ["Amélie", "Karim", "Sophie", "Julien", "Nadia", "Thomas", "Léa", "Mamadou", "Claire", "Hugo",
               "Inès", "Pierre", "Fatou", "Lucas", "Élise", "Yanis", "Margaux"]
LAST_NAMES = ["Martin", "Benali", "Moreau", "Lefèvre", "Diallo", "Garnier", "Rousseau", "Nguyen", "Faure",
              "Mercier", "Roux", "Chevalier", "Traoré", "Blanc", "Girard", "Payet", "Le Gall", "Santoni", "Muller"]
QUESTIONS = [  # (thème, question)
    ("Reçu fiscal", "Comment émettre un reçu fiscal pour un don de produits ?"),
    ("Subvention", "Peut-on présenter la même dépense à deux financeurs ?"),
    ("Bilan", "Quel modèle utiliser pour le bilan intermédiaire ?"),
    ("Partenariat", "Le logo du partenaire doit-il figurer sur nos menus ?"),
]
FINAL_REPORT_DELAY = 60  # days after a convention's end when its bilan final is due
CRF_AGREEMENT, CRF_CANTINE = "CONV-2026-05", "La Marmite des Chartrons"  # its compte rendu financier is overdue
UPCOMING_CRF_AGREEMENT = "CONV-2026-06"  # a compte rendu financier in 30 days, its actual column empty
# (Nature, Libellé, Financeur, Montant prévu, Montant réalisé, Commentaire) of CONV-2026-05's action:
# « Manger ensemble » at La Marmite des Chartrons, a year. The last three actuals are still only in the
# cantine's own accounting sheet (synced into the hub by the demo config).
CRF_BUDGET = [
    ("60 – Achats", "Denrées alimentaires", None, 14000, "15200", None),
    ("60 – Achats", "Petit matériel de cuisine", None, 1500, "2100", "Remplacement des plaques de cuisson tombées en panne en mars."),
    ("61 – Services extérieurs", "Loyer et charges du local", None, 6000, "6000", None),
    ("61 – Services extérieurs", "Assurance", None, 800, "760", None),
    ("62 – Autres services extérieurs", "Communication et impression des menus", None, 1200, "650", None),
    ("63 – Impôts et taxes", "Contribution à la formation professionnelle", None, 400, "400", None),
    ("64 – Charges de personnel", "Salaire de la cheffe de cantine (0,8 ETP)", None, 22500, None, None),
    ("65 – Autres charges de gestion courante", "Cotisation au réseau", None, 600, "600", None),
    ("86 – Emplois des contributions volontaires en nature", "Bénévolat (1 800 heures au SMIC chargé)", None, 21600, "23400", None),
    ("86 – Emplois des contributions volontaires en nature", "Salle prêtée par la mairie", None, 3000, "3000", None),
    ("70 – Vente de marchandises, produits finis, prestations de services", "Participation libre des convives", None, 12000, None, None),
    ("74 – Subventions d'exploitation", "Subvention « Manger ensemble »", "Département Cœur de Loire", 20000, "16000", "Subvention accordée : 16 000 € sur les 20 000 € demandés."),
    ("74 – Subventions d'exploitation", "Politique de la ville", "Ville de Bordeaux", 8000, "8000", None),
    ("74 – Subventions d'exploitation", "Fonds pour le développement de la vie associative", "État (FDVA)", 3000, "0", "Demande au FDVA refusée."),
    ("75 – Autres produits de gestion courante", "Cotisations et dons manuels", None, 4000, None, None),
    ("87 – Contributions volontaires en nature", "Bénévolat", None, 21600, "23400", None),
    ("87 – Contributions volontaires en nature", "Mise à disposition gratuite de la salle", None, 3000, "3000", None),
]
# What the cantine's accounting sheet says of the lines the hub does not have yet.
CRF_SHEET_ACTUALS = {
    "Salaire de la cheffe de cantine (0,8 ETP)": Decimal(22900),
    "Participation libre des convives": Decimal(13850),
    "Cotisations et dons manuels": Decimal(4700),
}
UPCOMING_CRF_BUDGET = [  # CONV-2026-06: three cantines, Agence Alimentation Demain, nothing actual yet
    ("60 – Achats", "Denrées alimentaires", None, 42000),
    ("61 – Services extérieurs", "Loyers des trois cantines", None, 18000),
    ("62 – Autres services extérieurs", "Déplacements et formation des bénévoles", None, 4000),
    ("64 – Charges de personnel", "Coordination de l'action (1 ETP)", None, 38000),
    ("Charges indirectes affectées à l'action", "Frais de structure (10 %)", None, 10200),
    ("70 – Vente de marchandises, produits finis, prestations de services", "Participation des convives", None, 33200),
    ("74 – Subventions d'exploitation", "Prix de l'innovation sociale", "Agence Alimentation Demain", 57000),
    ("75 – Autres produits de gestion courante", "Dons manuels", None, 22000),
    ("87 – Contributions volontaires en nature", "Bénévolat", None, 30000),
    ("86 – Emplois des contributions volontaires en nature", "Bénévolat", None, 30000),
]


def person(index: int, shift: int = 0) -> str:
    """A plausible first and last name, the same for the same index."""
    return f"{FIRST_NAMES[(index + shift) % len(FIRST_NAMES)]} {LAST_NAMES[(index * 7 + shift) % len(LAST_NAMES)]}"


OPPORTUNITY_KINDS = [
    ("Appel à projets « Manger ensemble »", "Appel à projets"),
    ("Subvention de fonctionnement", "Subvention"),
    ("Prix de l'innovation sociale", "Prix"),
    ("Mécénat équipement de cuisine", "Mécénat financier"),
    ("Dons de produits frais", "Mécénat en nature"),
    ("Appel à projets « Alimentation durable »", "Appel à projets"),
    ("Fonds d'amorçage", "Subvention"),
    ("Mécénat de compétences communication", "Mécénat de compétences"),
]


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").replace("--", "-")


def demo_rows(today: dt.date) -> dict[str, Rows]:
    """Every table's rows for the demo of `today`, by table code (deterministic)."""
    rng = random.Random(SEED)

    def day(offset: int) -> dt.date:
        return today + dt.timedelta(days=offset)

    cantines: Rows = []
    for index, (name, city, postcode, dept, qpv) in enumerate(OPEN_CANTINES + PROJECT_CANTINES):
        opened = index < len(OPEN_CANTINES)
        contact = slug(name.replace("La ", "").replace("Le ", "").replace("Cantine ", ""))
        cantines.append({
            "Nom": name, "Statut": "Ouverte" if opened else "En montage",
            "Association": f"Association {name}", "Ville": city, "Code postal": postcode,
            "Département": dept, "Quartier prioritaire": qpv,
            "Thématiques": rng.sample(THEMES, 3), "Besoins": rng.sample(NEEDS, 2),
            "Budget annuel": Decimal(rng.randrange(60, 260) * 1000 if opened else rng.randrange(8, 40) * 1000),
            "Responsable": person(index), "Email responsable": f"{contact}@{DOMAIN}",
            "Emails en copie": [f"bureau.{contact}@{DOMAIN}"] if index % 3 == 0 else [],
            "Reçoit les emails": index % 7 != 6,  # a few opted out of the weekly digest
            "Date d'ouverture": day(-rng.randrange(200, 3000)) if opened else None,
        })
    # deliberate problems: an unknown département, a duplicate name
    cantines.append({**cantines[0], "Nom": "Cantine du Canal", "Ville": "Nulle-Part", "Département": "99",
                     "Email responsable": f"canal@{DOMAIN}"})
    cantines.append({**cantines[1], "Ville": "Lyon (doublon)"})

    partenaires: Rows = []
    for index, (name, kind, status, territory) in enumerate(PARTNERS):
        partenaires.append({
            "Nom": name, "Type": kind, "Statut": status, "Thématiques": rng.sample(THEMES, 2),
            "Territoires": [territory], "Montant min": Decimal(rng.choice([1000, 2000, 5000])),
            "Montant max": Decimal(rng.choice([10000, 20000, 50000])),
            "Contact": person(index, 5), "Email contact": f"{slug(person(index, 5)).replace('-', '.')}@{slug(name)}.example",
            "Responsable": STAFF[index % len(STAFF)],
            "Prochaine action": rng.choice(["Relancer par téléphone", "Envoyer le bilan", "Proposer une visite"]),
            "Date prochaine action": day(rng.randrange(-10, 40)),
            "Notes": "",
        })

    territories = ["France", "Auvergne-Rhône-Alpes", "Provence-Alpes-Côte d'Azur", "Rhône", "69", "Gironde",
                   "Bretagne", "Hauts-de-France", "Île-de-France", "Corse", "974", "Occitanie", "Grand Est",
                   "Pays de la Loire", "Nouvelle-Aquitaine", "Seine-Saint-Denis"]
    opportunites: Rows = []
    for index in range(40):
        title, nature = OPPORTUNITY_KINDS[index % len(OPPORTUNITY_KINDS)]
        partner = PARTNERS[index % len(PARTNERS)][0]
        permanent = index % 9 == 4
        low = Decimal(rng.choice([1000, 3000, 5000, 10000]))
        opportunites.append({
            "Titre": f"{title} – {partner} {today.year + (index % 2)}",
            "Partenaire": partner, "Nature": nature,
            "Territoires éligibles": [rng.choice(territories)],
            "Réservé aux quartiers prioritaires": index % 7 == 3,
            "Stades éligibles": rng.choice([[], ["Ouverte"], ["En montage"], ["En montage", "Ouverte"]]),
            "Thématiques": rng.sample(THEMES, 2), "Dépenses": rng.sample(["Fonctionnement", "Investissement"], 1),
            "Montant min": low, "Montant max": low * rng.choice([2, 4, 10]),
            "Date d'ouverture": day(-rng.randrange(5, 90)),
            "Date limite": None if permanent else day(rng.randrange(-30, 150)),
            "Récurrence": "Permanente" if permanent else rng.choice(["Ponctuelle", "Récurrente"]),
            "Candidature collective possible": index % 4 == 0,
            "Lien": f"https://{slug(partner)}.example/appels/{index + 1}",
            "Source": "Manuel", "Identifiant source": "",
            "Statut veille": rng.choice(["Pertinente", "Pertinente", "À qualifier", "Écartée", "Archivée"]),
            "Description": f"{title} proposé par {partner}.",
        })
    opportunites[5]["Date limite"] = "31/02/" + str(today.year + 1)  # deliberate: no 31 February

    statuses = ["Acceptée", "Acceptée", "Acceptée", "Acceptée", "Acceptée", "Acceptée", "Refusée",
                "En rédaction", "À l'étude", "Déposée", "En instruction", "En rédaction", "Sans suite",
                "Acceptée", "Déposée"]
    candidatures: Rows = []
    for index, status in enumerate(statuses):
        opportunity = opportunites[index * 2]
        beneficiaries = [OPEN_CANTINES[(index + k) % len(OPEN_CANTINES)][0] for k in range(1 + index % 3)]
        requested = Decimal(rng.randrange(5, 60) * 1000)
        candidatures.append({
            "Intitulé": f"{opportunity['Titre']} – {beneficiaries[0]}",
            "Opportunité": opportunity["Titre"],
            "Porteur": "Réseau" if len(beneficiaries) > 1 else beneficiaries[0],
            "Cantines bénéficiaires": beneficiaries,
            "Type": "Collective" if len(beneficiaries) > 1 else "Individuelle",
            "Statut": status, "Responsable": STAFF[index % len(STAFF)],
            "Date limite interne": day(rng.randrange(3, 40)) if status in ("En rédaction", "À l'étude") else None,
            "Date de dépôt": day(-rng.randrange(30, 300)) if status not in ("En rédaction", "À l'étude") else None,
            "Montant demandé": requested,
            "Montant accordé": (requested * Decimal("0.8")).quantize(Decimal(1)) if status == "Acceptée" else None,
            "Date de décision": day(-rng.randrange(20, 250)) if status in ("Acceptée", "Refusée") else None,
        })
    # deliberate: a beneficiary's name misspelled
    candidatures[11]["Cantines bénéficiaires"] = ["Cantine des Canut"]

    conventions: Rows = []
    accepted = [c for c in candidatures if c["Statut"] == "Acceptée"]
    kinds = ["Convention annuelle", "Convention pluriannuelle (CPO)", "Convention de mécénat", "Décision attributive"]
    for index, application in enumerate(accepted):
        start = day(-rng.randrange(90, 330))
        years = 3 if index % 4 == 1 else 1
        partner = next(o["Partenaire"] for o in opportunites if o["Titre"] == application["Opportunité"])
        conventions.append({
            "Référence": f"CONV-{start.year}-{index + 1:02d}", "Partenaire": partner,
            "Candidature": application["Intitulé"], "Cantines": application["Cantines bénéficiaires"],
            "Type": kinds[index % len(kinds)], "Date de signature": start - dt.timedelta(days=15),
            "Date de début": start, "Date de fin": start + dt.timedelta(days=365 * years - 1),
            "Montant total": application["Montant accordé"],
            "Engagements": "Logo du partenaire sur les menus\nBilan intermédiaire à mi-parcours\nInvitation à un repas",
            "Statut": "En cours",
        })

    echeances: Rows = []
    # One échéance at each reminder offset, so that every demo day has reminders due.
    firing = [(30, "Bilan intermédiaire"), (14, "Visibilité partenaire"), (7, "Rapport d'activité"),
              (2, "Versement"), (-1, "Compte rendu financier"), (-7, "Bilan final")]
    for index, (days, kind) in enumerate(firing):
        convention = conventions[index % len(conventions)]
        echeances.append({
            "Intitulé": f"{kind} – {convention['Référence']}", "Convention": convention["Référence"],
            "Cantine": convention["Cantines"][0], "Type": kind, "Date d'échéance": day(days),
            "Date interne": day(days - 5) if days > 5 else None,
            "Montant": Decimal(5000) if kind == "Versement" else None,
            "Statut": "En préparation" if days < 10 else "À venir", "Responsable": STAFF[index % len(STAFF)],
            "Fait le": None,
        })
    # A bilan final is due after its convention's end: the one overdue above ends 2 months before it.
    for item in echeences_final(echeances):
        convention = next(c for c in conventions if c["Référence"] == item["Convention"])
        ends = (item["Date d'échéance"] - dt.timedelta(days=FINAL_REPORT_DELAY)).replace(day=1) - dt.timedelta(days=1)
        convention["Date de fin"] = ends  # the end of a month, a year after the start
        convention["Date de début"] = (ends + dt.timedelta(days=1)).replace(year=ends.year - 1)
        convention["Date de signature"] = convention["Date de début"] - dt.timedelta(days=15)
        convention["Type"] = "Convention annuelle"
        convention["Statut"] = "Soldée"
    # Others: not due for a reminder today, or already done (no reminder however close).
    for index, convention in enumerate(conventions):
        final_in = (convention["Date de fin"] - today).days + FINAL_REPORT_DELAY
        for kind, days, status in (("Bilan final", final_in, "À venir"),
                                   ("Versement", -20 - index * 3, "Payée"),
                                   ("Visite partenaire", 3 + index * 4, "À venir")):
            if kind == "Bilan final" and any(e["Convention"] == convention["Référence"] for e in echeences_final(echeances)):
                continue  # its bilan final is one of the overdue ones above
            while days in (30, 14, 7, 2, -1, -7, -30) or 3 <= days <= 4:
                days += 3  # keep these clear of every reminder offset, weekends included
            echeances.append({
                "Intitulé": f"{kind} – {convention['Référence']}", "Convention": convention["Référence"],
                "Cantine": None, "Type": kind, "Date d'échéance": day(days), "Date interne": None,
                "Montant": Decimal(3000) if kind == "Versement" else None, "Statut": status,
                "Responsable": STAFF[(index + 1) % len(STAFF)],
                "Fait le": day(days) if status == "Payée" else None,
            })
    # A compte rendu financier in 30 days whose budget has no actual yet: the cantine is asked for them.
    upcoming = next(c for c in conventions if c["Référence"] == UPCOMING_CRF_AGREEMENT)
    echeances.append({
        "Intitulé": f"Compte rendu financier – {UPCOMING_CRF_AGREEMENT}", "Convention": UPCOMING_CRF_AGREEMENT,
        "Cantine": upcoming["Cantines"][0], "Type": "Compte rendu financier", "Date d'échéance": day(30),
        "Date interne": day(25), "Montant": None, "Statut": "À venir", "Responsable": STAFF[0], "Fait le": None,
    })
    # Deliberate, for the subsidy checks: a public convention over 23 000 € without its signature
    # date, and versements paid beyond a convention's amount.
    upcoming["Date de signature"] = None
    overpaid = conventions[-1]
    echeances.append({
        "Intitulé": f"Versement du solde – {overpaid['Référence']}", "Convention": overpaid["Référence"],
        "Cantine": None, "Type": "Versement", "Date d'échéance": day(-12), "Date interne": None,
        "Montant": overpaid["Montant total"], "Statut": "Payée", "Responsable": STAFF[1], "Fait le": day(-12),
    })
    echeances.append({**echeances[0], "Intitulé": "Relevé de visibilité – erreur d'adresse",
                      "Type": "Visibilité partenaire", "Date d'échéance": day(14), "Responsable": "marie.dupont@"})
    echeances.append({**echeances[1], "Intitulé": "Échéance sans statut", "Type": "Autre", "Statut": None})

    budgets: Rows = [
        {"Libellé": label, "Convention": CRF_AGREEMENT, "Candidature": None, "Nature": nature, "Financeur": funder,
         "Montant prévu": Decimal(planned), "Montant réalisé": Decimal(actual) if actual is not None else None,
         "Commentaire": comment}
        for nature, label, funder, planned, actual, comment in CRF_BUDGET
    ] + [
        {"Libellé": label, "Convention": UPCOMING_CRF_AGREEMENT, "Candidature": None, "Nature": nature,
         "Financeur": funder, "Montant prévu": Decimal(planned), "Montant réalisé": None, "Commentaire": None}
        for nature, label, funder, planned in UPCOMING_CRF_BUDGET
    ]
    # An application still under instruction: its budget asks 30 000 € of the funder, the
    # candidature says 35 000 € (a check tells it), and one line's nature is not a heading of the CERFA.
    pending = next(c for c in candidatures if c["Statut"] == "Déposée" and "Département" in c["Opportunité"])
    for nature, label, funder, planned in (
        ("60 – Achats", "Denrées et petit matériel", None, 18000),
        ("64 – Charges de personnel", "Animation des ateliers (0,5 ETP)", None, 16000),
        ("74 – Subventions d'exploitation", "Dons de produits frais", "Département Cœur de Loire", 30000),
        ("75 – Autres produits de gestion courante", "Dons manuels", None, 4000),
        ("69 – Divers", "Imprévus", None, 500),
    ):
        budgets.append({"Libellé": label, "Convention": None, "Candidature": pending["Intitulé"], "Nature": nature,
                        "Financeur": funder, "Montant prévu": Decimal(planned), "Montant réalisé": None,
                        "Commentaire": None})
    # The contrat d'engagement républicain, ticked on the applications to public funders but one.
    public = {name for name, kind, *_ in PARTNERS if kind in ("Collectivité", "État", "Établissement public")}
    for application in candidatures:
        partner = next(o["Partenaire"] for o in opportunites if o["Titre"] == application["Opportunité"])
        application["Contrat d'engagement républicain"] = partner in public and application is not pending

    offres: Rows = [
        {"Nom": "Dons de pain – Levain d'Or", "Partenaire": "Boulangeries Levain d'Or", "Type": "Don de produits",
         "Description": "Invendus de pain du jour, collectés chaque soir.", "Territoires": ["Auvergne-Rhône-Alpes"],
         "Places": 4, "Valeur unitaire": Decimal(1800), "Début": day(-60), "Fin": day(300), "Statut": "Ouverte"},
        {"Nom": "Ateliers cuisine BioSaveurs", "Partenaire": "Coopérative BioSaveurs", "Type": "Animation en cantine",
         "Description": "Un atelier cuisine de saison animé par un salarié.", "Territoires": ["France"],
         "Places": 6, "Valeur unitaire": Decimal(450), "Début": day(-30), "Fin": day(200), "Statut": "Ouverte"},
        {"Nom": "Conseil communication – Entre Voisins", "Partenaire": "Mutuelle Entre Voisins",
         "Type": "Mécénat de compétences", "Description": "Une demi-journée de conseil en communication.",
         "Territoires": ["France"], "Places": 3, "Valeur unitaire": Decimal(600), "Début": day(-100),
         "Fin": day(-5), "Statut": "Fermée"},
        {"Nom": "Frigos solidaires – Épiceries du Lendemain", "Partenaire": "Épiceries du Lendemain",
         "Type": "Matériel", "Description": "Un réfrigérateur professionnel reconditionné.", "Territoires": ["France"],
         "Places": 2, "Valeur unitaire": Decimal(1200), "Début": day(-10), "Fin": day(120), "Statut": "Ouverte"},
    ]
    declinaisons: Rows = []
    for index, (cantine, *_rest) in enumerate(OPEN_CANTINES[:8]):
        offer = offres[index % 3]
        status = ["Réalisée", "Planifiée", "Acceptée", "Proposée"][index % 4]
        declinaisons.append({
            "Offre": offer["Nom"], "Cantine": cantine, "Statut": status,
            "Date prévue": day(-40 + index * 9),
            "Valeur valorisée": offer["Valeur unitaire"] if status == "Réalisée" else None,
            "Reçu fiscal émis": status == "Réalisée" and index % 2 == 0,
        })

    indicateurs: Rows = []
    first_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    months = []
    month = first_month
    for _ in range(12):
        months.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    for index, (cantine, *_rest) in enumerate(OPEN_CANTINES):
        size = rng.randrange(300, 1400)
        for month in sorted(months):
            if index == 3 and month in months[4:6]:
                continue  # two months not reported, so that drafts name them as missing
            season = Decimal("0.45") if month.month == 8 else Decimal("1")
            meals = int(size * season * Decimal(rng.randrange(85, 115)) / 100)
            indicateurs.append({
                "Cantine": cantine, "Mois": month, "Repas servis": meals,
                "Convives": int(meals * Decimal(rng.randrange(55, 80)) / 100),
                "Bénévoles actifs": rng.randrange(8, 45), "Heures de bénévolat": Decimal(rng.randrange(80, 600)),
                "Animations": rng.randrange(0, 8), "Produits locaux (%)": Decimal(rng.randrange(25, 85)) / 100,
            })
    indicateurs[7]["Repas servis"] = "beaucoup"  # deliberate: not a number

    questions: Rows = []
    for index in range(10):
        asked = day(-rng.randrange(0, 25))
        solved = index % 3 == 0
        theme, question = QUESTIONS[index % len(QUESTIONS)]
        questions.append({
            "Cantine": OPEN_CANTINES[index][0], "Posée le": asked, "Thème": theme, "Question": question,
            "Réponse": "Voir la fiche pratique envoyée par email." if solved else "",
            "Statut": "Résolue" if solved else rng.choice(["Ouverte", "En cours"]),
            "Répondue le": min(asked + dt.timedelta(days=2), today) if solved else None,  # never in the future
            "Responsable": STAFF[index % len(STAFF)],
        })

    visites: Rows = []
    for index, (cantine, *_rest) in enumerate(OPEN_CANTINES):
        for visit in range(1 + index % 2):
            visites.append({
                "Cantine": cantine, "Date": day(-rng.randrange(5, 200) - visit * 100),
                "Par": "Camille", "Notes": "Repas partagé avec l'équipe bénévole.",
            })

    return {
        "cantines": cantines, "partenaires": partenaires, "opportunites": opportunites,
        "candidatures": candidatures, "conventions": conventions, "echeances": echeances,
        "budgets": budgets, "offres": offres, "declinaisons": declinaisons, "indicateurs": indicateurs,
        "questions": questions, "visites": visites,
    }


def echeences_final(echeances: Rows) -> list[dict[str, Any]]:
    """The bilans finals among the échéances made so far."""
    return [e for e in echeances if e["Type"] == "Bilan final"]


# Cantines that keep their monthly figures in a workbook of their own, synced into the hub.
SHEET_CANTINES = ("La Tablée de Vaise", "Cantine du Port", "Le Chaudron Partagé")
FIGURE_COLUMNS = ("Mois", "Repas servis", "Convives", "Bénévoles actifs", "Heures de bénévolat", "Animations",
                  "Produits locaux (%)")


def cantine_workbook_rows(today: dt.date) -> dict[str, Rows]:
    """Each sheet-keeping cantine's own Indicateurs: what the hub has, plus last month, not yet in
    the hub (the sync brings it), and one figure the cantine corrected."""
    hub = demo_rows(today)["indicateurs"]
    rng = random.Random(SEED + 1)
    this_month = today.replace(day=1)
    books: dict[str, Rows] = {}
    for index, name in enumerate(SHEET_CANTINES):
        rows = [{c: r[c] for c in FIGURE_COLUMNS} for r in hub if r["Cantine"] == name]
        if not rows:
            continue
        latest = dict(rows[-1])
        latest["Mois"] = this_month
        latest["Repas servis"] = int(latest["Repas servis"]) + rng.randrange(-40, 40)
        rows.append(latest)
        if index == 0:
            rows[0]["Repas servis"] = int(rows[0]["Repas servis"]) + 7  # a correction made in the cantine's sheet
        books[name] = rows
    return books


ACCOUNTS_COLUMNS = ("Rubrique", "Libellé", "Réalisé")


def cantine_accounts_rows(today: dt.date) -> Rows:
    """La Marmite des Chartrons' own budget follow-up (« Suivi budgétaire »): every line's actual
    amount, the three the hub does not have yet included (the demo's sync brings them)."""
    return [
        {"Rubrique": nature, "Libellé": label,
         "Réalisé": Decimal(actual) if actual is not None else CRF_SHEET_ACTUALS[label]}
        for nature, label, _funder, _planned, actual, _comment in CRF_BUDGET
    ]


def cantine_accounts_path(settings: Settings) -> Path:
    return settings.workbook.path.parent / "cantines" / f"{slug(CRF_CANTINE)}-comptabilite.xlsx"


def cantine_workbook_path(settings: Settings, name: str) -> Path:
    return settings.workbook.path.parent / "cantines" / f"{slug(name)}.xlsx"


def demo_day(today: dt.date, *, explicit: bool) -> tuple[dt.date, str | None]:
    """The day the demo plays: today, or the next business day when today is a weekend or a public
    holiday (nothing goes out then) and no day was asked for; with a note saying so."""
    if explicit or is_business_day(today):
        return today, None
    shown = business_day_on_or_after(today)
    return shown, (
        f"Le {date_longue(today)} est un week-end ou un jour férié : aucun rappel ne part ces jours-là. "
        f"La démonstration est jouée au {date_longue(shown)} (--today {shown.isoformat()})."
    )


def fill_tables(tables: Mapping[str, Table], rows: Mapping[str, Rows]) -> list[str]:
    """Create the demo rows in tables of any backend, in link order; a row the backend refuses (a
    typed field cannot hold the deliberate bad values) is left out and said, the rest go in."""
    lines = []
    for code in [c for c in rows if c in tables]:
        table = tables[code]
        refused: list[str] = []
        write_tolerantly(table.create, rows[code], lambda _row, exc: refused.append(str(exc)))
        lines.extend(f"{table.spec.name} : ligne non chargée ({reason})" for reason in refused)
        if refused:
            lines.append(f"{table.spec.name} : {pluriel(len(refused), 'ligne refusée')} par le backend, les autres sont chargées")
    return lines


def write_demo_workbook(settings: Settings, today: dt.date) -> None:
    """Write a fresh demo workbook at the settings' workbook path (replacing any previous one)."""
    path = settings.workbook.path
    path.unlink(missing_ok=True)
    store = WorkbookStore(path, timezone=settings.timezone)
    rows = demo_rows(today)
    with store.batch():
        for code, spec in settings.schema.items():
            table = store.table(spec)
            table.ensure_schema()
            if rows.get(code):
                table.create(rows[code])


def write_cantine_workbooks(settings: Settings, today: dt.date) -> list[Path]:
    """The sheet-keeping cantines' own workbooks (one Indicateurs tab each)."""
    spec = TableSpec("indicateurs-cantine", "Indicateurs",
                     tuple(settings.schema["indicateurs"].column(c) for c in FIGURE_COLUMNS), ("Mois",))
    paths = [write_one_tab(cantine_workbook_path(settings, name), spec, rows, settings)
             for name, rows in cantine_workbook_rows(today).items()]
    budgets = settings.schema["budgets"]
    spec = TableSpec("budget-cantine", "Suivi budgétaire", (
        replace(budgets.column("Nature"), name="Rubrique"), budgets.column("Libellé"),
        replace(budgets.column("Montant réalisé"), name="Réalisé"),
    ), ("Rubrique", "Libellé"))
    paths.append(write_one_tab(cantine_accounts_path(settings), spec, cantine_accounts_rows(today), settings))
    return paths


def write_one_tab(path: Path, spec: TableSpec, rows: Rows, settings: Settings) -> Path:
    """A fresh workbook at `path` holding one tab (`spec`) with `rows`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    store = WorkbookStore(path, timezone=settings.timezone)
    with store.batch():
        table = store.table(spec)
        table.ensure_schema()
        table.create(rows)
    return path


def ensure_demo_workbook(settings: Settings, today: dt.date, *, reset: bool = False) -> bool:
    """Generate the demo workbook for `today` unless today's is already there; True if generated."""
    path = settings.workbook.path
    stamp = path.with_name(path.name + ".date")
    if not reset and path.exists() and stamp.exists() and stamp.read_text().strip() == today.isoformat():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_demo_workbook(settings, today)
    write_cantine_workbooks(settings, today)
    stamp.write_text(today.isoformat() + "\n")
    return True
