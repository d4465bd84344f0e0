"""Triage from customers' own words: accuracy floors, slang, impact/urgency, doubt, robustness, cache."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from helpdesk.triage import Triage, TriageResult, get_triage
from helpdesk.triage import model as triage_model
from helpdesk.triage.features import BLOCK_WEIGHTS, Analysis, Vectorizer, analyze, raw_features
from helpdesk.triage.model import cache_key
from helpdesk.triage.normalize import normalize
from helpdesk.vocabulary import (
    INCIDENT_CATEGORIES,
    REQUEST_CATEGORIES,
    Category,
    Impact,
    Priority,
    TicketType,
    Urgency,
)

DEV = Path(__file__).resolve().parents[1] / "data" / "classify_dev.jsonl"
C = Category


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache per test session, outside the repository's data/."""
    path = tmp_path_factory.getbasetemp() / "triage-cache"
    path.mkdir(exist_ok=True)
    return path


def _dev_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


# accuracy -------------------------------------------------------------------------------------


def test_dev_sample_accuracy_floors(triage: Triage) -> None:
    rows = _dev_rows()
    results = [triage.classify(r["text"]) for r in rows]
    type_acc = sum(res.ticket_type == r["type"] for res, r in zip(results, rows, strict=True)) / len(rows)
    cat_acc = sum(res.category == r["category"] for res, r in zip(results, rows, strict=True)) / len(rows)
    assert type_acc >= 0.95, type_acc
    assert cat_acc >= 0.85, cat_acc


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("инет тупит жесть", C.NETWORK),
        ("хочу чтобы мне поставили фотошоп", C.PROVISIONING),
        ("wifi down again", C.NETWORK),
        ("нужен доступ в гитлаб", C.ACCESS),
        ("комп не пашет", C.HARDWARE),
        ("ne rabotaet printer, pomogite", C.HARDWARE),
        ("pochta ne otpravlyaet pisma", C.SOFTWARE),
        ("впн отвалился опять", C.NETWORK),
        ("1с виснет намертво при проведении", C.SOFTWARE),
        ("экселька крашится постоянно", C.SOFTWARE),
        ("моник моргает", C.HARDWARE),
        ("my pc wont turn on", C.HARDWARE),
        ("outlook keeps crashing wtf", C.SOFTWARE),
        ("plz reset my pw", C.ACCESS),
        ("need excel installed asap", C.PROVISIONING),
        ("у нас вирус на компе, выскакивает баннер", C.SECURITY),
        ("свет вырубили во всем офисе", C.POWER),
        ("кондей сдох, жара", C.FACILITY),
        ("у провайдера авария, интернета не будет до вечера", C.SUPPLIER),
        ("как поменять пароль самому?", C.CONSULTATION),
        ("когда починят сервер?", C.INFORMATION),
        ("перенесите мой комп на другой стол", C.CHANGE),
        ("printer в бухгалтерии не печатает", C.HARDWARE),
    ],
)
def test_slang_typos_transliteration_mixed(triage: Triage, text: str, category: Category) -> None:
    result = triage.classify(text)
    assert result.category == category, result.explanation
    assert result.ticket_type == category.ticket_type


def test_normalisation_maps_slang_and_transliteration() -> None:
    assert normalize("инет тупит") == "интернет тормозит"
    assert normalize("ne rabotaet pochta") == "не работает почта"
    assert normalize("Wi-Fi doesn't work!") == "wifi does not work"
    assert normalize("Всё <b>ОК</b>") == "все ок"


# result shape ---------------------------------------------------------------------------------


def test_result_is_consistent(triage: Triage) -> None:
    result = triage.classify("Сломался принтер в бухгалтерии, не печатает")
    assert isinstance(result, TriageResult)
    assert result.ticket_type == result.category.ticket_type
    assert 0.0 <= result.confidence <= 1.0 and 0.0 <= result.type_confidence <= 1.0
    ranked = result.ranked_categories
    assert ranked[0][0] == result.category
    assert sorted(c for c, _ in ranked) == sorted(Category)
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)
    assert abs(sum(p for _, p in ranked) - 1.0) < 1e-6
    data = result.as_json()
    json.dumps(data)
    for key in ("type", "category", "priority", "impact", "urgency", "confidence", "explanation"):
        assert key in data
    assert data["type"] == "incident" and data["category"] == "hardware"


def test_explanation_names_cues_category_and_priority(triage: Triage) -> None:
    result = triage.classify("У всего отдела не печатает принтер, работа стоит")
    assert result.explanation.startswith("incident: ")
    assert "'не печатает'" in result.explanation and "'принтер'" in result.explanation
    assert "→ hardware" in result.explanation
    assert "impact team" in result.explanation and "urgency work stopped" in result.explanation
    assert result.explanation.endswith("→ P2")


# impact, urgency, priority ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "impact"),
    [
        ("Нет интернета во всём офисе", Impact.ORGANIZATION),
        ("у всех не открывается CRM", Impact.ORGANIZATION),
        ("клиенты не могут оплатить заказ на сайте", Impact.ORGANIZATION),
        ("The whole office has no internet", Impact.ORGANIZATION),
        ("Nobody can log in to the ERP", Impact.ORGANIZATION),
        ("у бухгалтерии не печатает принтер", Impact.TEAM),
        ("Our team can't reach the shared drive", Impact.TEAM),
        ("на складе пропала сеть", Impact.TEAM),
        ("мой ноутбук не заряжается", Impact.INDIVIDUAL),
        ("my mouse is broken", Impact.INDIVIDUAL),
    ],
)
def test_impact_inferred_from_text(triage: Triage, text: str, impact: Impact) -> None:
    result = triage.classify(text)
    assert result.impact == impact
    assert result.impact_inferred


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        ("компьютер не включается, не могу работать", Urgency.BLOCKED),
        ("срочно! принтер не печатает", Urgency.BLOCKED),
        ("VPN is down, urgent", Urgency.BLOCKED),
        ("монитор мерцает, не срочно, когда будет время", Urgency.LOW),
        ("mouse is flaky, no rush", Urgency.LOW),
        ("монитор мерцает", Urgency.DEGRADED),
        ("Excel is slow", Urgency.DEGRADED),
        ("как настроить подпись в outlook?", Urgency.LOW),
        ("When will the maintenance end?", Urgency.LOW),
        ("Установите, пожалуйста, архиватор", Urgency.LOW),
    ],
)
def test_urgency_inferred_from_text(triage: Triage, text: str, urgency: Urgency) -> None:
    result = triage.classify(text)
    assert result.urgency == urgency, result.explanation
    assert result.urgency_inferred


def test_customer_answers_override_text(triage: Triage) -> None:
    text = "Нет интернета во всём офисе, никто не может работать, срочно"
    inferred = triage.classify(text)
    assert (inferred.impact, inferred.urgency, inferred.priority) == (
        Impact.ORGANIZATION,
        Urgency.BLOCKED,
        Priority.P1,
    )
    answered = triage.classify(text, impact=Impact.INDIVIDUAL, urgency=Urgency.LOW)
    assert (answered.impact, answered.urgency) == (Impact.INDIVIDUAL, Urgency.LOW)
    assert not answered.impact_inferred and not answered.urgency_inferred
    assert answered.priority == Priority.P4
    assert answered.category == inferred.category == Category.NETWORK
    partly = triage.classify(text, urgency=Urgency.DEGRADED)
    assert partly.impact == Impact.ORGANIZATION and partly.impact_inferred
    assert partly.urgency == Urgency.DEGRADED and not partly.urgency_inferred
    assert partly.priority == Priority.P2


def test_security_incident_never_below_p2(triage: Triage) -> None:
    result = triage.classify(
        "Пришло фишинговое письмо, я перешёл по ссылке", impact=Impact.INDIVIDUAL, urgency=Urgency.LOW
    )
    assert result.category == Category.SECURITY
    assert result.priority == Priority.P2
    assert "security floor" in result.explanation


def test_organisation_wide_outage_is_p1(triage: Triage) -> None:
    result = triage.classify("Nobody in the company can work, the whole office lost power")
    assert result.category == Category.POWER
    assert result.priority == Priority.P1


# doubt, forced type and category -------------------------------------------------------------


@pytest.mark.parametrize("text", ["помогите", "hello", "вопрос", "Здравствуйте!", "help pls", "?", "у меня проблема"])
def test_vague_text_is_doubtful(triage: Triage, text: str) -> None:
    assert triage.is_doubtful(triage.classify(text))


@pytest.mark.parametrize(
    "text", ["принтер не печатает", "нужен доступ к папке бухгалтерии", "Please install Zoom", "VPN keeps dropping"]
)
def test_clear_text_is_not_doubtful(triage: Triage, text: str) -> None:
    assert not triage.is_doubtful(triage.classify(text))


def test_dev_sample_rarely_doubtful(triage: Triage) -> None:
    rows = _dev_rows()
    doubtful = sum(triage.is_doubtful(triage.classify(r["text"])) for r in rows)
    assert doubtful <= len(rows) * 0.1


@pytest.mark.parametrize("ticket_type", list(TicketType))
@pytest.mark.parametrize("text", ["помогите", "принтер не печатает", "нужен доступ в гитлаб", "hello"])
def test_forced_type_picks_category_of_that_type(triage: Triage, text: str, ticket_type: TicketType) -> None:
    result = triage.classify(text, ticket_type=ticket_type)
    allowed = INCIDENT_CATEGORIES if ticket_type == TicketType.INCIDENT else REQUEST_CATEGORIES
    assert result.category in allowed
    assert result.ticket_type == ticket_type
    assert result.type_confidence == 1.0
    assert not triage.is_doubtful(result)


def test_forced_type_keeps_best_category_of_that_type(triage: Triage) -> None:
    assert triage.classify("принтер не печатает", ticket_type=TicketType.INCIDENT).category == Category.HARDWARE
    assert triage.classify("нужен новый принтер", ticket_type=TicketType.SERVICE_REQUEST).category == (
        Category.PROVISIONING
    )


def test_forced_category_is_kept_and_priority_recomputed(triage: Triage) -> None:
    result = triage.classify("монитор мерцает", category=Category.SECURITY)
    assert result.category == Category.SECURITY and result.ticket_type == TicketType.INCIDENT
    assert result.ranked_categories[0][0] == Category.SECURITY
    assert result.priority == Priority.P2  # security floor
    assert result.confidence == 1.0
    request = triage.classify("монитор мерцает", category=Category.PROVISIONING)
    assert request.ticket_type == TicketType.SERVICE_REQUEST


# robustness -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😡😡😡🔥",
        "<p><b>HELP</b></p><script>alert(1)</script>&nbsp;&lt;",
        "a" * 10_000,
        ("принтер не печатает " * 600)[:10_000],
        "\x00\x01\x02 control \u200b chars",
        "١٢٣ 中文 テスト",
        "https://example.com/some/path?q=1 user@example.com",
        "!!!???...",
    ],
)
def test_never_crashes(triage: Triage, text: str) -> None:
    result = triage.classify(text)
    assert result.category in Category
    assert result.priority in Priority
    assert 0.0 <= result.confidence <= 1.0
    json.dumps(result.as_json())


def test_empty_text_is_doubtful(triage: Triage) -> None:
    assert triage.is_doubtful(triage.classify(""))


# loading and cache ----------------------------------------------------------------------------


def test_load_twice_uses_cache_and_agrees(triage: Triage, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(cache_dir))
    cached = cache_dir / f"triage-{cache_key()}.npz"
    assert cached.exists()
    again = Triage.load()
    for text in ("инет тупит жесть", "нужен доступ в гитлаб", "hello"):
        assert again.classify(text) == triage.classify(text)


@pytest.fixture
def small_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training on a slice of the corpus: these tests check the fallback path, not accuracy."""
    examples = triage_model.load_corpus()
    slice_ = [e for c in Category for e in [x for x in examples if x.category == c][:25]]
    monkeypatch.setattr(triage_model, "load_corpus", lambda *_a, **_k: slice_)


@pytest.mark.usefixtures("small_corpus")
def test_damaged_cache_falls_back_to_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path))
    (tmp_path / f"triage-{cache_key()}.npz").write_bytes(b"not a zip")
    loaded = Triage.load()
    assert loaded.classify("принтер не печатает").category == Category.HARDWARE


@pytest.mark.usefixtures("small_corpus")
def test_unwritable_cache_dir_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(blocker / "cache"))
    assert Triage.load().classify("wifi down").category == Category.NETWORK


def test_get_triage_is_a_singleton(triage: Triage) -> None:
    assert get_triage() is get_triage() is triage


# features: the cached per-word n-gram columns give the very vector raw_features() describes -----


def _reference_row(vectorizer: Vectorizer, a: Analysis) -> tuple[list[int], list[float]]:
    """The tf-idf row as documented: raw_features() names looked up, 1 + log(tf) times idf, per block."""
    cols: list[int] = []
    vals: list[float] = []
    for block, counts in raw_features(a).items():
        bcols = [vectorizer.index[n] for n in counts if n in vectorizer.index]
        bvals = [(1.0 + math.log(counts[vectorizer.names[j]])) * vectorizer.idf[j] for j in bcols]
        norm = math.sqrt(sum(v * v for v in bvals))
        if norm > 0:
            cols.extend(bcols)
            vals.extend(v * BLOCK_WEIGHTS[block] / norm for v in bvals)
    return cols, vals


def test_vector_equals_raw_features_exactly(triage: Triage) -> None:
    vectorizer = triage.model.vectorizer
    texts = [r["text"] for r in _dev_rows()] + ["printer printer printer jammed " * 70, "", "ok"]
    for text in texts + texts:  # the second pass reads each word's columns from the cache
        a = analyze(text)
        cols, vals = vectorizer.transform_one(a)
        ref_cols, ref_vals = _reference_row(vectorizer, a)
        assert cols.tolist() == ref_cols
        assert vals.tolist() == pytest.approx(ref_vals, rel=1e-12, abs=0)


def test_one_description_is_analysed_once_by_triage_self_help_and_grouping(
    triage: Triage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first description is read by the triage, the self-help matcher and the outage grouping: the text
    is normalised and tokenised once, and each gets the same analysis."""
    from helpdesk.knowledge.terms import query_slots
    from helpdesk.outages.profile import profile_report
    from helpdesk.triage import features

    calls: list[str] = []
    real = features.normalize_aligned

    def counting(text: str) -> tuple[str, tuple[str, ...]]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(features, "normalize_aligned", counting)
    text = "Интернет не работает во всём офисе на 3 этаже, vpn тоже лежит"
    features.analyze.cache_clear()
    triage.classify(text)
    profile_report(text)
    query_slots(text)
    assert calls == [text]
    assert features.analyze(text) is features.analyze(text)


def test_the_shared_analysis_cannot_be_changed_by_one_of_its_readers(triage: Triage) -> None:
    """`analyze` hands one instance to every reader of a recent text: its cue groups are read-only, so no
    reader can change what the next one (or the next classify of the same text) sees."""
    text = "принтер не печатает, всё сломалось, срочно"
    analyze.cache_clear()
    first = triage.classify(text)
    a = analyze(text)
    assert a is analyze(text)
    assert a.cues, "the text has cue words"
    with pytest.raises(TypeError):
        a.cues["incident"] = ("changed",)  # type: ignore[index]
    for words in a.cues.values():
        assert isinstance(words, tuple)
    assert triage.classify(text) == first


@pytest.mark.parametrize(
    "text",
    [
        "printer on floor 3 is jammed",
        "i can't log in, wi-fi doesn't work and e-mail isn't either",
        "ne rabotaet wai fai, pass word",
        "эл. почта и 1 с не пашет, ip-телефон тоже",
        "it's what we've got, i'm out-of-office, re-install and set up",
        "",
    ],
)
def test_contractions_and_joins_apply_as_the_rules_in_order(text: str) -> None:
    """The one-scan shortcut of normalisation changes nothing: the same text as every rule applied in turn."""
    from helpdesk.triage import normalize as n

    for rules, any_rule in ((n._CONTRACTIONS, n._ANY_CONTRACTION), (n._JOINS, n._ANY_JOIN)):
        expected = text
        for pattern, repl in rules:
            expected = pattern.sub(repl, expected)
        assert n._substitute(text, rules, any_rule) == expected


def _labelled_texts() -> list[str]:
    """Every text of tests/data's labelled sets, and each upper-cased (other words, other n-grams)."""
    texts = [
        json.loads(line)["text"]
        for path in sorted(DEV.parent.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return texts + [text.upper() + " !!!" for text in texts]


def _counted_row(vectorizer: Vectorizer, a: Analysis) -> tuple[list[int], list[float]]:
    """The row as the vectoriser built it before its counting and its tf were inlined: a dict counted column by
    column in raw_features()' order, the tf by a call, the same products, sums and weights in the same order."""
    from helpdesk.triage import features

    counts: list[dict[int, int]] = []
    for names in raw_features(a).values():
        block: dict[int, int] = {}
        for name, n in names.items():
            j = vectorizer.index.get(name)
            if j is not None:
                block[j] = block.get(j, 0) + n
        counts.append(block)
    cols: list[int] = []
    vals: list[float] = []
    for block_name, block in zip(features.BLOCKS, counts, strict=True):
        bvals = [features._sublinear(n) * vectorizer._idf[j] for j, n in block.items()]
        norm = math.sqrt(sum([v * v for v in bvals]))
        if norm > 0:
            w = BLOCK_WEIGHTS[block_name] / norm
            cols.extend(block)
            vals.extend([v * w for v in bvals])
    return cols, vals


def test_vector_is_the_counted_row_to_the_last_bit(triage: Triage) -> None:
    """The fast row (Counter, the tf table inline) is the counted one exactly: same columns in the same order,
    the very same floats, so every label, confidence and probability stays as it was."""
    vectorizer = triage.model.vectorizer
    for text in [*_labelled_texts(), "printer " * 300, "а" * 3000, "", "ok"]:
        a = analyze(text)
        assert vectorizer._row(a) == _counted_row(vectorizer, a), text


def test_predict_is_the_gathered_rows_product(triage: Triage) -> None:
    """`take` gathers the rows fancy indexing gathered: the scores are the same floats."""
    model = triage.model
    for text in _dev_rows()[:20]:
        a = analyze(text["text"])
        cols, vals = model.vectorizer.transform_one(a)
        p_cat, p_inc, _, _ = model.predict(a)
        z_cat = vals @ model.cat_coef[cols] + model.cat_intercept
        z_type = float(vals @ model.type_coef[cols]) + model.type_intercept
        assert p_cat.tolist() == triage_model._softmax(z_cat).tolist()
        assert p_inc == 1.0 / (1.0 + np.exp(-z_type))


def test_word_shapes_kept_are_the_regex_answers() -> None:
    """Transliteration and mixed-script checks read each word's shape from a cache: the answers are the
    regex searches' for every word of the labelled texts."""
    from helpdesk.triage import normalize as n

    tokens = {t for text in _labelled_texts() for t in n._TOKEN.findall(text.lower())} | {"mышка", "rabotaet", ""}
    for token in tokens:
        latin, cyrillic = bool(n._LATIN.search(token)), bool(n._CYRILLIC.search(token))
        assert n._shape(token) == (latin, cyrillic, bool(n._RUSSIAN_LIKE.search(token)))
        assert n._mixed_script(token) == (latin and cyrillic)
