"""RFC 3797 selection, checked against the RFC's own fully worked example (section 6)."""

from __future__ import annotations

import pytest

from services.draw.protocol import canonical, proof, subjects
from services.draw.protocol.rfc3797 import (
    MAX_POOL,
    canonical_key,
    main,
    parse_sources,
    round_digest,
    select,
)

# RFC 3797 section 6 ("Fully Worked Example"): a pool of 25 volunteers in published order.
RFC_POOL = (
    "John", "Mary", "Bashful", "Dopey", "Sleepy",
    "Grouchy", "Doc", "Sneazy", "Handsome", "Cassandra",
    "Pollyanna", "Pendragon", "Pandora", "Faith", "Hope",
    "Charity", "Lee", "Longsuffering", "Chastity", "Smith",
    "Pride", "Sloth", "Envy", "Anger", "Kasczynski",
)  # fmt: skip
# Section 6: three hypothetical source values, in the announced order.
RFC_SOURCES = ("9319", "2 5 12 8 10", "9 18 26 34 41 45")
# Section 6: the resulting key string.
RFC_KEY = "9319./2.5.8.10.12./9.18.26.34.41.45./"
# Section 6: the first ten selected (the ten NomCom voting members), in order.
RFC_SELECTED_10 = [17, 7, 2, 16, 25, 23, 8, 24, 19, 13]
RFC_NAMES_10 = [
    "Lee", "Doc", "Mary", "Charity", "Kasczynski",
    "Envy", "Sneazy", "Anger", "Chastity", "Pandora",
]  # fmt: skip
# Section 6 table "index / hex value of MD5 / div / selected", all 16 rounds printed there.
RFC_TABLE = [
    (1, "990DD0A5692A029A98B5E01AA28F3459", 25, 17),
    (2, "3691E55CB63FCC37914430B2F70B5EC6", 24, 7),
    (3, "FE814EDF564C190AC1D25753979990FA", 23, 2),
    (4, "1863CCACEB568C31D7DDBDF1D4E91387", 22, 16),
    (5, "F4AB33DF4889F0AF29C513905BE1D758", 21, 25),
    (6, "13EAEB529F61ACFB9A29D0BA3A60DE4A", 20, 23),
    (7, "992DB77C382CA2BDB9727001F3CDCCD9", 19, 8),
    (8, "63AB4258ECA922976811C7F55C383CE7", 18, 24),
    (9, "DFBC5AC97CED01B3A6E348E3CC63F40D", 17, 19),
    (10, "31CB111C4A4EBE9287CEAE16FE51B909", 16, 13),
    (11, "07FA46C122F164C215BBC72793B189A3", 15, 22),
    (12, "AC52F8D75CCBE2E61AFEB3387637D501", 14, 5),
    (13, "53306F73E14FC0B2FBF434218D25948E", 13, 18),
    (14, "B5D1403501A81F9A47318BE7893B347C", 12, 9),
    (15, "85B10B356AA06663EF1B1B407765100A", 11, 1),
    (16, "3269E6CE559ABD57E2BA6AAB495EB9BD", 10, 4),
]


def test_rfc_example_key_string() -> None:
    assert canonical_key(RFC_SOURCES) == RFC_KEY


def test_rfc_example_selects_ten() -> None:
    selected = select(len(RFC_POOL), 10, RFC_SOURCES)
    assert selected == RFC_SELECTED_10
    assert [RFC_POOL[p - 1] for p in selected] == RFC_NAMES_10


def test_rfc_example_full_table() -> None:
    for index, digest_hex, div, _ in RFC_TABLE:
        assert round_digest(RFC_KEY, index - 1).hex().upper() == digest_hex
        assert div == len(RFC_POOL) - (index - 1)
    assert select(len(RFC_POOL), len(RFC_TABLE), RFC_SOURCES) == [row[3] for row in RFC_TABLE]


def test_main_prints_rfc_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--pool-size", "25", "--count", "10", *RFC_SOURCES]) == 0
    out, err = capsys.readouterr()
    assert out == "".join(f"{p}\n" for p in RFC_SELECTED_10)
    assert err == ""


def test_fewer_rounds_give_a_prefix() -> None:
    full = select(25, 25, RFC_SOURCES)
    for count in range(1, 26):
        assert select(25, count, RFC_SOURCES) == full[:count]


def test_deterministic() -> None:
    sources = ["17 3 44", "123456789", "0 1 2"]
    first = select(500, 40, sources)
    assert all(select(500, 40, list(sources)) == first for _ in range(5))


@pytest.mark.parametrize(
    ("pool_size", "count"), [(1, 1), (2, 2), (25, 25), (100, 37), (MAX_POOL, 50)]
)
def test_positions_distinct_and_in_range(pool_size: int, count: int) -> None:
    selected = select(pool_size, count, RFC_SOURCES)
    assert len(selected) == count
    assert len(set(selected)) == count
    assert all(1 <= p <= pool_size for p in selected)
    if count == pool_size:
        assert sorted(selected) == list(range(1, pool_size + 1))


def test_key_sorts_within_a_source_not_across_sources() -> None:
    assert canonical_key(["3 1 2", "9"]) == "1.2.3./9./"
    assert canonical_key(["9", "3 1 2"]) == "9./1.2.3./"
    assert select(25, 10, ["9", "3 1 2"]) != select(25, 10, ["3 1 2", "9"])


def test_key_sorts_numerically_and_drops_leading_zeros() -> None:
    assert canonical_key(["10 9 100", "0009 018 0"]) == "9.10.100./0.9.18./"
    assert canonical_key(["  9319\t"]) == "9319./"


def test_changed_source_changes_selection() -> None:
    assert select(25, 10, ["9318", "2 5 12 8 10", "9 18 26 34 41 45"]) != RFC_SELECTED_10


@pytest.mark.parametrize(
    ("pool_size", "count", "sources", "message"),
    [
        (25, 26, RFC_SOURCES, "cannot select 26 from a pool of 25"),
        (0, 1, RFC_SOURCES, "pool size must be at least 1"),
        (-5, 1, RFC_SOURCES, "pool size must be at least 1"),
        (MAX_POOL + 1, 1, RFC_SOURCES, "too large"),
        (25, 0, RFC_SOURCES, "count must be at least 1"),
        (25, 10, (), "at least one source"),
        (25, 10, ("9319", "   "), "source 2 is empty"),
        (25, 10, ("9319", "2, 5"), "'2,' is not a whole number"),
        (25, 10, ("-3",), "not a whole number"),
        (25, 10, ("1.5",), "not a whole number"),
        (25, 10, ("Lee",), "not a whole number"),
        (25, 10, ("１２",), "not a whole number"),
    ],
)
def test_bad_input_raises(
    pool_size: int, count: int, sources: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        select(pool_size, count, sources)


def test_one_string_is_not_a_list_of_sources() -> None:
    with pytest.raises(ValueError, match="one per source"):
        canonical_key("9319")


@pytest.mark.parametrize(
    "argv",
    [
        ["--pool-size", "5", "--count", "6", "1 2"],
        ["--pool-size", "0", "--count", "1", "1 2"],
        ["--pool-size", "5", "--count", "2", "1, 2"],
        ["--pool-size", "5", "--count", "2"],
        ["--pool-size", "five", "--count", "2", "1 2"],
        ["--count", "2", "1 2"],
    ],
)
def test_main_bad_input_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "error" in err


# -- RFC 3797 as the service's alternative selection ----------------------------------------


def _lines(n: int, stratum: str = "A") -> list[str]:
    return canonical.sort_pool(
        canonical.pool_line(f"ID{i:06d}", stratum, "420202", "所1") for i in range(n)
    )


def test_the_service_selection_is_the_rfc_procedure_on_each_stratum() -> None:
    lines = _lines(25)
    picked, summary = subjects.select_rfc3797(list(RFC_SOURCES), lines, {"A": {"count": 10}})
    assert [p.position + 1 for p in picked] == RFC_SELECTED_10
    assert summary["A"] == {"pool": 25, "count": 10}
    # Strata continue the round counter: B's first round is round 10.
    both = sorted(
        _lines(25) + [line.replace("\tA\t", "\tB\t").replace("ID", "JD") for line in lines]
    )
    picked, _ = subjects.select_rfc3797(
        list(RFC_SOURCES), both, {"A": {"count": 10}, "B": {"count": 1}}
    )
    b_members = [i for i, line in enumerate(both) if "\tB\t" in line]
    key = canonical_key(list(RFC_SOURCES))
    value = int.from_bytes(round_digest(key, 10), "big")
    assert picked[-1].position == b_members[value % 25]
    assert [p.position + 1 for p in picked[:10]] == RFC_SELECTED_10  # A comes first


def test_a_proof_with_rfc3797_selection_verifies_and_names_tampering() -> None:
    lines = _lines(300)
    document = {
        "announcement": {
            "protocol": canonical.PROTOCOL_V2,
            "draw_id": "d-rfc",
            "pool_hash": canonical.pool_hash(lines),
            "pool_size": len(lines),
            "strata": {"A": {"ratio": "0.05"}},
            "departments": [{"department": "SAMR", "categories": ["general"]}],
            "min_group_size": 2,
            "rules": {"cross_jurisdiction": False, "avoid_previous_inspectors": True},
            "roster": [[f"S-{k}", "SAMR", "420200", "所9", ["general"]] for k in range(4)],
            "conflicts": [],
            "previous": [],
            "commitment": canonical.commitment(bytes(32)),
            "selection": canonical.RFC3797_SELECTION,
            "announced_at": "2026-11-23T08:00:00+00:00",
        },
        "pool": "\n".join(lines),
        "secret": bytes(32).hex(),
        "entropy": " / ".join(RFC_SOURCES),
        "replacements": [],
    }
    document["announcement_hash"] = canonical.announcement_hash(document["announcement"])
    document["result"] = proof.run(document)
    assert proof.verify(document) == []
    expected, _ = subjects.select_rfc3797(list(RFC_SOURCES), lines, {"A": {"ratio": "0.05"}})
    assert [s["identifier"] for s in document["result"]["selection"]] == [
        p.identifier for p in expected
    ]
    forged = {**document, "entropy": "9319 / 2 5 12 8 11 / 9 18 26 34 41 45"}
    assert any(p.startswith("selection") for p in proof.verify(forged))
    with pytest.raises(ValueError, match="not a whole number"):
        proof.run({**document, "entropy": "nine / 2 5"})


def test_rfc3797_selection_refuses_what_its_two_byte_counter_cannot_count() -> None:
    big = _lines(MAX_POOL + 1)
    with pytest.raises(ValueError, match="at most 65535"):
        subjects.select_rfc3797(list(RFC_SOURCES), big, {"A": {"count": 1}})
    # A stratum that is not drawn from may be as large as it likes.
    picked, _ = subjects.select_rfc3797(list(RFC_SOURCES), big, {"A": {"count": 0}})
    assert picked == []


def test_entropy_lists_sources_separated_by_slashes() -> None:
    assert parse_sources("9319 / 2 5 12 8 10 / 9 18 26 34 41 45 /") == list(RFC_SOURCES)
    with pytest.raises(ValueError, match="empty"):
        parse_sources("9319 // 2")
