"""Roll out national partner offers (product donations, activities in cantines…) fairly (pure).

Each offer that is Ouverte and current is proposed to the open cantines of its territory, never to a
cantine it was already proposed to, never beyond its places, and first to the cantines that benefited
least recently from any offer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from automations.domain.model import Cantine, Dataset, PartnerOffer

BENEFITED = frozenset({"Acceptée", "Planifiée", "Réalisée"})
DECLINED = "Déclinée"


@dataclass(frozen=True)
class OfferProposal:
    offer: PartnerOffer
    cantine: Cantine
    reason: str  # French: why this cantine comes first


def is_current(offer: PartnerOffer, today: dt.date) -> bool:
    return (
        offer.status == "Ouverte"
        and (offer.starts_on is None or offer.starts_on <= today)
        and (offer.ends_on is None or today <= offer.ends_on)
    )


def propose_offers(dataset: Dataset, today: dt.date) -> list[OfferProposal]:
    """New Déclinaisons to create today, at most the offer's free places each."""
    proposed: set[tuple[str, str]] = set()
    taken: dict[str, int] = defaultdict(int)
    last_benefit: dict[str, dt.date] = {}
    benefits: dict[str, int] = defaultdict(int)
    for rollout in dataset.declinaisons:
        proposed.add((rollout.offer, rollout.cantine))
        if rollout.status != DECLINED:
            taken[rollout.offer] += 1
        if rollout.status in BENEFITED:
            benefits[rollout.cantine] += 1
            when = rollout.planned_on or dt.date.min
            last_benefit[rollout.cantine] = max(last_benefit.get(rollout.cantine, dt.date.min), when)
    open_cantines = [c for c in dataset.cantines if c.status == "Ouverte"]
    proposals: list[OfferProposal] = []
    for offer in sorted(dataset.offres, key=lambda o: (o.starts_on or dt.date.min, o.name)):
        if not is_current(offer, today):
            continue
        # Déclinaisons beyond the Places (added by hand) leave no free place, never a negative count
        free = None if offer.places is None else max(0, offer.places - taken[offer.name])
        candidates = [
            c for c in open_cantines
            if (offer.name, c.name) not in proposed
            and (not offer.territories or any(t.covers(c.departement) for t in offer.territories))
        ]
        # the cantines that benefited least recently first, then those that benefited least often
        candidates.sort(key=lambda c: (last_benefit.get(c.name, dt.date.min), benefits[c.name], c.name))
        for cantine in candidates[: free if free is not None else len(candidates)]:
            last = last_benefit.get(cantine.name)
            reason = (
                "jamais bénéficiaire d'une offre partenaire" if last is None
                else f"dernière offre partenaire le {last.strftime('%d/%m/%Y')}"
                if last != dt.date.min else "offre partenaire passée sans date"
            )
            proposals.append(OfferProposal(offer, cantine, reason))
            # a cantine served now goes to the back of the queue for the next offers
            last_benefit[cantine.name] = today
            benefits[cantine.name] += 1
            taken[offer.name] += 1
    return proposals
