"""The console's search on what hotline agents type: hit rate and server time.

Each query is what an agent might type with a caller on the line: a name, an alias, part of a
name, pinyin or its initials, a typo, or the caller's own words. A query hits when the expected
item is the first result (hit@1) or among the first three (hit@3). The server time is that of
`ConsoleSearch.search` (what /console/api/search reports as `ms`), each query run REPEAT times.
Run alone with `python -m bench.console_search`; `make bench` puts it in bench/REPORT.md.
"""

from __future__ import annotations

import statistics

TARGETS = {"hit1": 0.85, "hit3": 0.95, "p95_ms": 20.0}
REPEAT = 20

# (query, expected item, what kind of query it is)
QUERIES: list[tuple[str, str, str]] = [
    ("换驾照", "driving_licence_renewal", "alias"),
    ("结婚登记", "marriage_registration", "name"),
    ("jhdj", "marriage_registration", "initials"),
    ("lhdj", "divorce_registration", "initials"),
    ("ydjyba", "medical_filing", "initials"),
    ("sbkgs", "social_security_card_loss_report", "initials"),
    ("wfzjlzm", "no_criminal_record", "initials"),
    ("hjzm", "hukou_certificate", "initials"),
    ("jiehun", "marriage_registration", "pinyin"),
    ("huzhao", "exit_entry_documents", "pinyin"),
    ("nianjian", "vehicle_inspection", "pinyin"),
    ("shiyejin", "unemployment_benefit", "pinyin"),
    ("结昏登记", "marriage_registration", "typo"),
    ("身分证过期", "id_card_renewal", "typo"),
    ("社宝卡丢了", "social_security_card_loss_report", "typo"),
    ("离昏", "divorce_registration", "typo"),
    ("驾照过期了", "driving_licence_renewal", "alias"),
    ("良民证", "no_criminal_record", "alias"),
    ("开无犯罪证明", "no_criminal_record", "alias"),
    ("异地就医备案", "medical_filing", "alias"),
    ("外地住院报销", "inpatient_settlement", "alias"),
    ("门诊慢特病", "chronic_disease_settlement", "alias"),
    ("公积金转移", "housing_fund_transfer", "alias"),
    ("租房提公积金", "housing_fund_rent", "alias"),
    ("退休提公积金", "housing_fund_retirement", "alias"),
    ("社保转移", "pension_transfer_employee", "alias"),
    ("打印社保证明", "insurance_certificate_print", "alias"),
    ("失业登记", "unemployment_registration", "name"),
    ("二手车过户", "used_car_transfer", "alias"),
    ("异地违章", "traffic_violation", "alias"),
    ("学法减分", "points_reduction", "alias"),
    ("电子驾照", "e_driving_licence", "alias"),
    ("临牌", "temporary_plate", "alias"),
    ("车牌丢了", "plate_reissue", "alias"),
    ("行驶证丢了", "vehicle_licence_reissue", "alias"),
    ("出生证明", "birth_medical_certificate", "alias"),
    ("完税证明", "tax_payment_record", "alias"),
    ("营业执照", "business_registration", "alias"),
    ("居住证", "residence_permit_apply", "part"),
    ("新生儿上户口", "newborn_hukou", "alias"),
    ("临时身份证", "temporary_id_card", "alias"),
    ("夫妻投靠", "hukou_transfer_spouse", "alias"),
    ("我户口在湖南，在东莞打工，想在这边领结婚证，要带啥", "marriage_registration", "caller"),
    ("来电人说身份证快到期了人在外地", "id_card_renewal", "caller"),
    ("老人想把户口迁到儿子这边", "hukou_transfer_parents", "caller"),
    ("在外地考驾照可以吗", "driving_test", "caller"),
    ("结婚证丢了想补一个", "marriage_certificate_reissue", "caller"),
    ("社保卡丢了怎么挂失", "social_security_card_loss_report", "caller"),
    ("在外地看门诊能直接报销吗", "outpatient_settlement", "caller"),
    ("毕业了户口怎么迁", "hukou_transfer_graduate", "caller"),
    ("身份证丢了在外地补办", "id_card_renewal", "caller"),
    ("医保异地备案", "medical_filing", "words"),
    ("gjjcx", "housing_fund_query", "initials"),
    ("年捡", "vehicle_inspection", "typo"),
    ("换个驾驶证", "driving_licence_renewal", "words"),
]


def run() -> dict:
    import time

    from tongban import Tongban
    from tongban.console.search import ConsoleSearch

    started = time.perf_counter()
    search = ConsoleSearch(Tongban.load(warm=True))
    build_ms = (time.perf_counter() - started) * 1000
    times: list[float] = []
    hit1 = hit3 = 0
    misses: list[dict] = []
    by_kind: dict[str, list[int]] = {}
    for query, expected, kind in QUERIES:
        for _ in range(REPEAT):
            hits, ms = search.timed(query)
            times.append(ms)
        ranked = [h.item_id for h in hits]
        first, top3 = ranked[:1] == [expected], expected in ranked[:3]
        hit1 += first
        hit3 += top3
        by_kind.setdefault(kind, [0, 0])
        by_kind[kind][0] += first
        by_kind[kind][1] += 1
        if not first:
            misses.append({"query": query, "expected": expected, "got": ranked[:3]})
    times.sort()
    n = len(QUERIES)
    return {
        "n": n,
        "hit1": hit1 / n,
        "hit3": hit3 / n,
        "by_kind": {k: v[0] / v[1] for k, v in by_kind.items()},
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "max_ms": times[-1],
        "index_ms": build_ms,
        "misses": misses,
    }


def section(figures: dict) -> list[str]:
    def mark(value: float, target: float, higher: bool = True) -> str:
        return "✅" if (value >= target if higher else value <= target) else "❌"

    lines = [
        "## Console search (热线工作台)",
        "",
        f"{figures['n']} agent queries of bench/console_search.py (names, aliases, parts of names, "
        "pinyin and initials, typos, callers' own words), each timed "
        f"{REPEAT} times in `ConsoleSearch.search` (the server time /console/api/search reports).",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| hit@1 | {figures['hit1']:.0%} | ≥ {TARGETS['hit1']:.0%} {mark(figures['hit1'], TARGETS['hit1'])} |",
        f"| hit@3 | {figures['hit3']:.0%} | ≥ {TARGETS['hit3']:.0%} {mark(figures['hit3'], TARGETS['hit3'])} |",
        f"| server time p50 | {figures['p50_ms']:.2f} ms | |",
        f"| server time p95 | {figures['p95_ms']:.2f} ms | < {TARGETS['p95_ms']:.0f} ms {mark(figures['p95_ms'], TARGETS['p95_ms'], False)} |",
        f"| server time max | {figures['max_ms']:.2f} ms | |",
        "",
        "hit@1 by kind of query: "
        + ", ".join(f"{kind} {share:.0%}" for kind, share in figures["by_kind"].items())
        + ".",
        "",
    ]
    if figures["misses"]:
        lines += ["Not first:", ""]
        lines += [
            f"- {m['query']} → expected `{m['expected']}`, got {', '.join(f'`{g}`' for g in m['got']) or 'nothing'}"
            for m in figures["misses"]
        ]
        lines.append("")
    return lines


if __name__ == "__main__":
    import logging

    import jieba  # noqa: F401 - jieba sets its logger to DEBUG when imported

    logging.getLogger("jieba").setLevel(logging.WARNING)
    print("\n".join(section(run())))
