"""Benchmark: matching 100 cantines × 5,000 opportunités with 2,000 existing candidatures.

Run with `make bench` or `python -m tests.bench.bench_matching`. Prints wall time and peak memory
(target: under 2 s and under 200 MB on the project's 2-core machine). Not a pass/fail test.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import resource
import time
import tracemalloc
from decimal import Decimal

from automations.domain.matching import Matcher, MatchingRules, collective_suggestions
from automations.domain.model import Application, Cantine, Dataset, Opportunity
from automations.settings import load_settings

from ..conftest import REPO

TODAY = dt.date(2026, 3, 6)
THEMES = ["Alimentation durable", "Lien social", "Lutte contre l'isolement", "Insertion", "Anti-gaspillage",
          "Éducation à l'alimentation", "Culture", "Économie sociale et solidaire"]
NEEDS = ["Fonctionnement", "Investissement", "Équipement de cuisine", "Emploi", "Formation", "Communication"]


def dataset(cantines: int = 100, opportunities: int = 5000, applications: int = 2000, seed: int = 1) -> Dataset:
    rng = random.Random(seed)
    reference = load_settings(REPO / "config" / "demo.toml", {}).reference
    departements = list(reference.departements)
    territories = ["France", "France métropolitaine", *reference.regions, *(d.code for d in departements)]
    the_cantines = [
        Cantine(
            name=f"Cantine {i}", status=rng.choice(["Ouverte", "Ouverte", "En montage"]), city="Ville",
            departement=rng.choice(departements), qpv=rng.random() < 0.4, themes=tuple(rng.sample(THEMES, 3)),
            needs=tuple(rng.sample(NEEDS, 2)), annual_budget=Decimal(rng.randrange(10, 300) * 1000),
        )
        for i in range(cantines)
    ]
    the_opportunities = [
        Opportunity(
            title=f"Opportunité {i}", partner=f"Partenaire {i % 300}",
            territories=tuple(reference.territory(t) for t in rng.sample(territories, rng.choice([1, 1, 2]))),  # type: ignore[misc]
            qpv_only=rng.random() < 0.15, stages=tuple(rng.choice([[], ["Ouverte"], ["En montage", "Ouverte"]])),
            themes=tuple(rng.sample(THEMES, 2)), expenses=tuple(rng.sample(["Fonctionnement", "Investissement"], 1)),
            amount_min=Decimal(rng.choice([1000, 5000, 10000])), amount_max=Decimal(rng.choice([20000, 50000, 100000])),
            deadline=TODAY + dt.timedelta(days=rng.randrange(-30, 200)),
            recurrence=rng.choice(["Ponctuelle", "Permanente", "Récurrente"]), collective=rng.random() < 0.25,
            watch_status=rng.choice(["Pertinente", "À qualifier", "Écartée"]),
        )
        for i in range(opportunities)
    ]
    statuses = ["Acceptée", "Refusée", "Déposée", "En rédaction", "Sans suite"]
    the_applications = [
        Application(
            title=f"Candidature {i}", opportunity=f"Opportunité {rng.randrange(opportunities)}",
            status=rng.choice(statuses), cantines=(f"Cantine {rng.randrange(cantines)}",),
            decided_on=TODAY - dt.timedelta(days=rng.randrange(1, 700)),
        )
        for i in range(applications)
    ]
    return Dataset(cantines=the_cantines, opportunites=the_opportunities, candidatures=the_applications)


def run(data: Dataset, rules: MatchingRules) -> tuple[list, list, int]:
    matcher = Matcher(data, TODAY, rules)
    matches = matcher.matches()
    suggestions = collective_suggestions(matches, rules)
    reasons = sum(len(m.reasons) for m in matches)  # what the write-back renders
    return matches, suggestions, reasons


def main() -> None:
    data = dataset()
    rules = MatchingRules()
    timings, cpu = [], []
    for _ in range(3):  # wall time without tracing, best of three
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        matches, suggestions, reasons = run(data, rules)
        timings.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)  # the machine's other load does not count here
    elapsed = min(timings)
    gc.collect()
    tracemalloc.start()  # memory on a separate, traced run (tracing slows Python down)
    run(data, rules)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pairs = len(data.cantines) * len(data.opportunites)
    print(f"matching: {len(data.cantines)} cantines × {len(data.opportunites)} opportunités, "
          f"{len(data.candidatures)} candidatures ({pairs:,} pairs)")
    print(f"  matches ≥ threshold {rules.threshold}: {len(matches):,}; collective suggestions: {len(suggestions)}; "
          f"reasons rendered: {reasons:,} characters")
    print(f"  wall time: {elapsed:.2f} s, best of 3 (all: {', '.join(f'{t:.2f}' for t in timings)}; CPU {min(cpu):.2f} s) "
          f"(target < 2 s)")
    print(f"  peak memory allocated while matching: {peak / 2**20:.1f} MB; process max RSS: {rss:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    main()
