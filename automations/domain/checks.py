"""The legal and budget checks of a subsidy, for Problèmes and the coordinator's digest (pure).

Each finding is a data problem worded for staff who are not lawyers: what is wrong, what to do,
and the text that asks for it.

- A public subsidy of more than 23 000 € a year needs a signed convention (loi n° 2000-321 du
  12 avril 2000, art. 10; décret n° 2001-495 du 6 juin 2001: « dont le montant annuel dépasse
  23 000 euros »): a convention with a public funder (or a funder of unknown type) over that amount a
  year, without a Date de signature. Private funders (fondations, entreprises) are not bound by it.
- An association that asks a public body (Collectivité, État, Établissement public) for a subsidy
  signs the contrat d'engagement républicain (loi n° 2021-1109, art. 12; décret n° 2021-1947): an
  application under way or granted, to such a funder, without the box ticked.
- The budget presented with an application is balanced (charges = produits, as the CERFA 12156 asks)
  and shows the subsidy requested: the planned 74 lines of that funder must add up to the
  application's Montant demandé (the line, not the whole budget: the whole budget is the action's,
  of which the subsidy is a part).
- The versements received (Échéances of type Versement, Payée) never exceed the convention's Montant
  total.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from automations.domain.budgets import SUBSIDY_CODE, application_lines, build_budget, make_nature, same_funder
from automations.domain.french import a, de, euros
from automations.domain.model import Agreement, Application, DataProblem, Dataset

PUBLIC_TYPES = ("Collectivité", "État", "Établissement public")
CONVENTION_THRESHOLD = Decimal(23000)  # a year (décret n° 2001-495, art. 1)
CER_COLUMN = "Contrat d'engagement républicain"
APPLYING = ("En rédaction", "Déposée", "En instruction", "Acceptée")  # the contract goes with the request
CLOSED = ("Refusée", "Sans suite")  # no budget to defend any more
PAID, PAYMENT = "Payée", "Versement"
DEFAULT_NAMES = {
    "conventions": "Conventions", "candidatures": "Candidatures", "budgets": "Budgets", "echeances": "Échéances",
}
LAW_CONVENTION = "loi n° 2000-321 du 12 avril 2000, art. 10, et décret n° 2001-495 du 6 juin 2001"
LAW_CER = "loi n° 2021-1109 du 24 août 2021, art. 12, et décret n° 2021-1947 du 31 décembre 2021"


def funding_checks(dataset: Dataset, names: Mapping[str, str] = DEFAULT_NAMES) -> list[DataProblem]:
    """Every finding of the four checks, conventions first."""
    names = {**DEFAULT_NAMES, **names}
    problems: list[DataProblem] = []
    for agreement in dataset.conventions:
        problems.extend(convention_checks(agreement, dataset, names))
    problems.extend(republican_contract_checks(dataset, names))
    for application in dataset.candidatures:
        problems.extend(budget_checks(application, dataset, names))
    return problems


def is_public(partner_type: str | None) -> bool:
    return partner_type in PUBLIC_TYPES


def annual_amount(agreement: Agreement) -> Decimal | None:
    """The convention's amount per year: its total over the years it covers (a year when undated)."""
    if agreement.total_amount is None:
        return None
    if agreement.starts_on is None or agreement.ends_on is None or agreement.ends_on <= agreement.starts_on:
        return agreement.total_amount
    days = (agreement.ends_on - agreement.starts_on).days + 1
    years = max(1, -(-days // 366))  # a year and a day is still one year's convention; 3 years: 3
    return agreement.total_amount / years


def convention_checks(agreement: Agreement, dataset: Dataset, names: Mapping[str, str]) -> list[DataProblem]:
    """The signature of a public convention over the threshold; the versements against its amount."""
    problems = []
    partner = dataset.partenaire(agreement.partner)
    kind = partner.type if partner is not None else None
    annual = annual_amount(agreement)
    if (kind is None or is_public(kind)) and annual is not None and annual > CONVENTION_THRESHOLD \
            and agreement.signed_on is None:
        who = f"{de(agreement.partner)} ({kind})" if kind else f"{de(agreement.partner)} (type de financeur non renseigné)"
        per_year = "" if annual == agreement.total_amount else f", soit {euros(annual.quantize(Decimal(1)))} par an"
        problems.append(DataProblem(
            names["conventions"], agreement.reference, "Date de signature", "",
            f"subvention de {euros(agreement.total_amount)}{per_year} {who} sans Date de signature : au-delà "
            f"de 23 000 € par an, une subvention publique doit faire l'objet d'une convention signée avec le "
            f"financeur ({LAW_CONVENTION}). Faites signer la convention (avant tout versement) et notez sa date.",
        ))
    paid = [
        item for item in dataset.echeances
        if item.agreement == agreement.reference and item.type == PAYMENT and item.status == PAID
    ]
    received = sum((item.amount or Decimal(0) for item in paid), Decimal(0))
    if agreement.total_amount is not None and received > agreement.total_amount:
        problems.append(DataProblem(
            names["conventions"], agreement.reference, "Montant total", euros(agreement.total_amount),
            f"versements reçus ({euros(received)}, {len(paid)} échéance{'s' if len(paid) > 1 else ''} « Versement » "
            f"payée{'s' if len(paid) > 1 else ''}) supérieurs au Montant total de la convention "
            f"({euros(agreement.total_amount)}) de {euros(received - agreement.total_amount)} : vérifiez les "
            "montants dans Échéances ; un trop-perçu se rembourse au financeur, ou se justifie par un avenant.",
        ))
    return problems


def application_partner(application: Application, dataset: Dataset) -> tuple[str | None, str | None]:
    """The funder an application is addressed to (its opportunity's partner) and its type."""
    opportunity = next((o for o in dataset.opportunites if o.title == application.opportunity), None)
    name = opportunity.partner if opportunity is not None else None
    partner = dataset.partenaire(name)
    return name, partner.type if partner is not None else None


def republican_contract_checks(dataset: Dataset, names: Mapping[str, str]) -> list[DataProblem]:
    """Applications to a public funder without the contrat d'engagement républicain ticked; one
    problem for the whole table when the column itself is missing."""
    concerned = []
    for application in dataset.candidatures:
        name, kind = application_partner(application, dataset)
        if is_public(kind) and application.status in APPLYING and not application.republican_contract:
            concerned.append((application, name, kind))
    if not concerned:
        return []
    if CER_COLUMN in dataset.absent_optional.get("candidatures", ()):
        return [DataProblem(
            names["candidatures"], "en-têtes", CER_COLUMN, "",
            f"colonne « {CER_COLUMN} » absente : ajoutez-la (case à cocher) et cochez-la pour chaque demande "
            f"faite à une collectivité, à l'État ou à un établissement public ({LAW_CER}) ; "
            f"{len(concerned)} candidature{'s' if len(concerned) > 1 else ''} en cours "
            f"{'sont concernées' if len(concerned) > 1 else 'est concernée'}.",
        )]
    return [
        DataProblem(
            names["candidatures"], application.title, CER_COLUMN, "",
            f"demande de subvention {a(name or '')} ({kind}) sans le contrat d'engagement républicain coché : toute "
            "association qui demande une subvention à une collectivité, à l'État ou à un établissement public "
            f"doit souscrire ce contrat ({LAW_CER}) ; il figure dans le formulaire de demande (CERFA 12156). "
            "Cochez la case une fois le contrat souscrit.",
        )
        for application, name, kind in concerned
    ]


def budget_checks(application: Application, dataset: Dataset, names: Mapping[str, str]) -> list[DataProblem]:
    """An application's planned budget: balanced, and showing the subsidy requested from its funder."""
    if application.status in CLOSED:
        return []
    lines = application_lines(application, dataset)
    if not lines:
        return []
    funder, _kind = application_partner(application, dataset)
    budget = build_budget(lines, funder or "", None)
    if budget is None:
        return []
    problems = []
    if not budget.planned_balanced:
        problems.append(DataProblem(
            names["budgets"], application.title, "Montant prévu", "",
            f"budget prévisionnel non équilibré : {euros(budget.charge_total.planned)} de charges pour "
            f"{euros(budget.produit_total.planned)} de produits (écart de {euros(abs(budget.planned_balance))}, "
            "hors contributions volontaires en nature) ; le budget présenté à un financeur doit être "
            "équilibré (total des charges = total des produits, formulaire CERFA 12156).",
        ))
    if application.amount_requested is None or funder is None:
        return problems
    subsidy = [
        line for line in lines
        if make_nature(line.nature).code == SUBSIDY_CODE and same_funder(line, funder)
    ]
    planned = sum((line.planned or Decimal(0) for line in subsidy), Decimal(0))
    if not subsidy:
        problems.append(DataProblem(
            names["budgets"], application.title, "Financeur", "",
            f"le budget n'a aucune ligne « 74 – Subventions d'exploitation » au nom {de(funder)} : le financeur "
            f"demande que la subvention sollicitée ({euros(application.amount_requested)}, Montant demandé) "
            "figure dans le budget de l'action. Ajoutez-la (Financeur : son nom tel qu'il est dans Partenaires).",
        ))
    elif planned != application.amount_requested:
        problems.append(DataProblem(
            names["budgets"], application.title, "Montant prévu", euros(planned),
            f"la subvention {de(funder)} prévue au budget ({euros(planned)}) n'est pas le Montant demandé de la "
            f"candidature ({euros(application.amount_requested)}) : le budget présenté doit faire apparaître "
            "la subvention sollicitée ; corrigez l'un ou l'autre.",
        ))
    return problems
