"""An action's budget as the compte rendu financier shows it (CERFA 15059), pure.

Budget lines (the Budgets table) belong to a convention, or to an application before its convention
exists. Each line has a Nature (a heading of the CERFA: 60 to 68 and 86 for charges, 70 to 78 and 87
for produits), a planned amount (the budget of the application) and an actual one (the accounts).

The compte rendu financier compares them heading by heading, planned against actual, with the gap
in euros and in percent; the direct charges and produits must balance, and an actual column still
partly empty leaves its totals « À compléter » instead of counting the missing lines as zero. A gap
over a threshold (15 % by default) is listed for the cantine to explain, as the CERFA's annex asks.
The contributions volontaires en nature (86 emplois, 87 ressources: volunteering, goods and premises
lent) are valued apart, below the totals, as the CERFA shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from automations.domain.model import Agreement, Application, BudgetLine, Dataset
from automations.domain.parsing import fold

CHARGE, PRODUIT = "charge", "produit"
SUBSIDY_CODE = "74"
IN_KIND_CODES = ("86", "87")
DEFAULT_GAP_THRESHOLD = Decimal("0.15")
SHARE = Decimal("0.001")  # a share to a tenth of a percent, rounded half up: 7,05 % shows as 7,1 %


@dataclass(frozen=True)
class Nature:
    """A heading of the CERFA: its choice as typed in Budgets, its account number, its side."""

    choice: str  # "60 – Achats"
    code: str  # "60"; "" for the headings without a number (charges indirectes, ressources propres)
    label: str  # "Achats"
    side: str  # CHARGE or PRODUIT

    @property
    def in_kind(self) -> bool:
        return self.code in IN_KIND_CODES

    @property
    def short(self) -> str:
        """The heading in a narrow column: its number, or « indir. » / « propres » for the unnumbered."""
        return self.code or ("indir." if self.side == CHARGE else "propres")


NUMBERED = re.compile(r"^(\d+)\s*–\s*(.+)$")


def make_nature(choice: str) -> Nature:
    """The Nature of a choice of the schema's Nature column."""
    match = NUMBERED.match(choice)
    code, label = (match.group(1), match.group(2)) if match else ("", choice)
    side = CHARGE if code.startswith("6") or code == "86" or fold(choice).startswith("charges") else PRODUIT
    return Nature(choice, code, label, side)


def heading_order(nature: Nature) -> tuple[int, str]:
    """The CERFA's order: the numbered headings by number, the others after the last direct one."""
    if nature.code:
        return (int(nature.code), "")
    return (69 if nature.side == CHARGE else 79, nature.label)


# -- the budget of one action -----------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """Actual against planned: in euros and as a share of the planned amount (None: not computable)."""

    planned: Decimal | None
    actual: Decimal | None

    @property
    def amount(self) -> Decimal | None:
        if self.actual is None:
            return None
        return self.actual - (self.planned or Decimal(0))

    @property
    def share(self) -> Decimal | None:
        """0.25 for +25 %; None when nothing was planned (an unplanned line has no percentage)."""
        if self.amount is None or not self.planned:
            return None
        return (self.amount / self.planned).quantize(SHARE, ROUND_HALF_UP)

    @property
    def unplanned(self) -> bool:
        return not self.planned and bool(self.actual)


@dataclass(frozen=True)
class BudgetRow:
    """One budget line as the compte rendu shows it."""

    line: BudgetLine
    nature: Nature
    gap: Gap
    flagged: bool  # a gap over the threshold, or an unplanned amount: to explain
    subsidy: bool  # a 74 line of the funder this report is for

    @property
    def title(self) -> str:
        return self.line.label or self.nature.label


@dataclass(frozen=True)
class HeadingTotal:
    """One heading of the synthesis table: its lines' planned and actual sums."""

    nature: Nature
    planned: Decimal
    actual: Decimal | None  # None while one of its lines has no actual amount
    missing: int  # lines without an actual amount

    @property
    def gap(self) -> Gap:
        return Gap(self.planned, self.actual)


@dataclass(frozen=True)
class Totals:
    """A side's total: planned, and actual once every line has its actual amount."""

    planned: Decimal
    actual: Decimal | None
    missing: int

    @property
    def gap(self) -> Gap:
        return Gap(self.planned, self.actual)


@dataclass(frozen=True)
class Budget:
    """Everything the financial part of a report shows, for one convention (or application)."""

    rows: tuple[BudgetRow, ...]  # every line, charges then produits, in the CERFA's order
    charges: tuple[HeadingTotal, ...]  # direct charges by heading (86 apart)
    produits: tuple[HeadingTotal, ...]  # direct produits by heading (87 apart)
    charge_total: Totals
    produit_total: Totals
    in_kind_charges: tuple[HeadingTotal, ...]  # 86: emplois des contributions volontaires en nature
    in_kind_produits: tuple[HeadingTotal, ...]  # 87: contributions volontaires en nature
    in_kind_charge_total: Totals
    in_kind_produit_total: Totals
    threshold: Decimal  # a gap over this share is to explain
    funder: str  # whose subsidy this is
    granted: Decimal | None  # the subsidy: the convention's Montant total (else the 74 lines planned)
    subsidy_planned: Decimal | None  # the funder's 74 lines, planned
    subsidy_actual: Decimal | None

    @property
    def flagged(self) -> tuple[BudgetRow, ...]:
        return tuple(row for row in self.rows if row.flagged)

    @property
    def planned_balance(self) -> Decimal:
        """Produits − charges planned: 0 for a balanced budget."""
        return self.produit_total.planned - self.charge_total.planned

    @property
    def planned_balanced(self) -> bool:
        return self.planned_balance == 0

    @property
    def actual_complete(self) -> bool:
        return self.charge_total.actual is not None and self.produit_total.actual is not None

    @property
    def actual_result(self) -> Decimal | None:
        """Produits − charges actual (excédent when positive, déficit when negative); None while incomplete."""
        if not self.actual_complete:
            return None
        return self.produit_total.actual - self.charge_total.actual  # type: ignore[operator]

    @property
    def has_actuals(self) -> bool:
        return any(row.line.actual is not None for row in self.rows)

    @property
    def has_in_kind(self) -> bool:
        return bool(self.in_kind_charges or self.in_kind_produits)

    @property
    def in_kind_balanced(self) -> bool:
        """Emplois (86) and ressources (87) of contributions en nature are the same value, planned."""
        return self.in_kind_charge_total.planned == self.in_kind_produit_total.planned

    @property
    def share_planned(self) -> Decimal | None:
        """The subsidy's share of the action's planned produits (CERFA: subvention / total des produits)."""
        return share(self.granted, self.produit_total.planned)

    @property
    def share_actual(self) -> Decimal | None:
        return share(self.granted, self.produit_total.actual)


def share(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    if part is None or not whole:
        return None
    return (part / whole).quantize(SHARE, ROUND_HALF_UP)


def agreement_lines(agreement: Agreement, lines: Iterable[BudgetLine]) -> list[BudgetLine]:
    """A convention's budget: its lines, and its application's lines not given to another convention."""
    return [
        line for line in lines
        if line.agreement == agreement.reference
        or (line.agreement is None and agreement.application is not None and line.application == agreement.application)
    ]


def application_lines(application: Application, dataset: Dataset) -> list[BudgetLine]:
    """An application's budget: its lines, and those of the conventions that followed it."""
    conventions = {a.reference for a in dataset.conventions if a.application == application.title}
    return [
        line for line in dataset.budgets
        if line.application == application.title or (line.agreement is not None and line.agreement in conventions)
    ]


def same_funder(line: BudgetLine, funder: str | None) -> bool:
    """Whether a 74 line is the subsidy of `funder` (names compared without case or accents)."""
    return funder is not None and line.funder is not None and fold(line.funder) == fold(funder)


def heading_totals(rows: Sequence[BudgetRow]) -> tuple[HeadingTotal, ...]:
    """The rows summed by heading, in the CERFA's order."""
    totals = []
    for nature in sorted({row.nature for row in rows}, key=heading_order):
        own = [row for row in rows if row.nature == nature]
        missing = sum(1 for row in own if row.line.actual is None)
        planned = sum((row.line.planned or Decimal(0) for row in own), Decimal(0))
        actual = None if missing else sum((row.line.actual or Decimal(0) for row in own), Decimal(0))
        totals.append(HeadingTotal(nature, planned, actual, missing))
    return tuple(totals)


def side_total(headings: Sequence[HeadingTotal]) -> Totals:
    missing = sum(h.missing for h in headings)
    planned = sum((h.planned for h in headings), Decimal(0))
    actual = None if missing else sum((h.actual or Decimal(0) for h in headings), Decimal(0))
    return Totals(planned, actual, missing)


def build_budget(
    lines: Iterable[BudgetLine], funder: str, granted: Decimal | None,
    threshold: Decimal = DEFAULT_GAP_THRESHOLD,
) -> Budget | None:
    """The budget of one action from its lines; None when it has none. `funder`: the partner the
    report is for (its 74 lines are the subsidy); `granted`: the subsidy's amount, when known."""
    rows = []
    for line in lines:
        nature = make_nature(line.nature)
        gap = Gap(line.planned, line.actual)
        over = gap.share is not None and abs(gap.share) > threshold
        rows.append(BudgetRow(line, nature, gap, over or gap.unplanned,
                              nature.code == SUBSIDY_CODE and same_funder(line, funder)))
    if not rows:
        return None
    rows.sort(key=lambda row: (row.nature.side != CHARGE, heading_order(row.nature), row.title, row.line.key))
    direct = [row for row in rows if not row.nature.in_kind]
    in_kind = [row for row in rows if row.nature.in_kind]
    charges = heading_totals([row for row in direct if row.nature.side == CHARGE])
    produits = heading_totals([row for row in direct if row.nature.side == PRODUIT])
    in_kind_charges = heading_totals([row for row in in_kind if row.nature.side == CHARGE])
    in_kind_produits = heading_totals([row for row in in_kind if row.nature.side == PRODUIT])
    subsidy = [row for row in rows if row.subsidy]
    subsidy_planned = sum((row.line.planned or Decimal(0) for row in subsidy), Decimal(0)) if subsidy else None
    subsidy_actual = (
        sum((row.line.actual or Decimal(0) for row in subsidy), Decimal(0))
        if subsidy and all(row.line.actual is not None for row in subsidy) else None
    )
    return Budget(
        rows=tuple(rows), charges=charges, produits=produits, charge_total=side_total(charges),
        produit_total=side_total(produits), in_kind_charges=in_kind_charges, in_kind_produits=in_kind_produits,
        in_kind_charge_total=side_total(in_kind_charges), in_kind_produit_total=side_total(in_kind_produits),
        threshold=threshold, funder=funder, granted=granted if granted is not None else subsidy_planned,
        subsidy_planned=subsidy_planned, subsidy_actual=subsidy_actual,
    )


def agreement_budget(agreement: Agreement, dataset: Dataset, threshold: Decimal = DEFAULT_GAP_THRESHOLD) -> Budget | None:
    """A convention's budget, with its partner's subsidy; None when it has no budget line."""
    return build_budget(agreement_lines(agreement, dataset.budgets), agreement.partner, agreement.total_amount, threshold)
