"""Outage grouping: which reports are the same outage, why, where a new one goes, and known outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helpdesk.outages.evaluation import pairwise_quality
from helpdesk.outages.known import (
    UnknownService,
    declared_outage,
    major_incident_outage,
    match_known_outage,
)
from helpdesk.outages.placement import OpenIncident, place_report, same_outage
from helpdesk.outages.profile import cached_profile, profile_report, resolve_service
from helpdesk.outages.similarity import compare
from helpdesk.triage.normalize import normalize
from helpdesk.vocabulary import Category

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def same(a: str, b: str, **kw: str) -> tuple[bool, str]:
    result = compare(profile_report(a), profile_report(b, **kw))
    assert result.same == compare(profile_report(b, **kw), profile_report(a)).same  # symmetric
    return result.same, result.explanation


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Интернет не работает во всём офисе!!!", "Internet is down for the whole office"),
        ("инет лёг у всех", "no internet at all, nobody can work 😡"),
        ("ne rabotaet pochta", "email is down for everyone"),
        ("1С не запускается, у всех бухгалтеров", "ERP is down, cannot create invoices"),
        ("впн не работает у всех удалёнщиков", "Can't reach anything over VPN"),
        ("В корпусе Б нет света", "power outage in building B"),
        ("Принтер на 3 этаже не печатает", "printer on the 3rd floor is dead"),
        ("телефония упала, входящие не проходят", "desk phones are dead, no dial tone"),
        ("личный кабинет клиентов не работает", "our customer portal is down"),
        ("в переговорке нет вай фая", "wifi in the meeting room is down"),
    ],
)
def test_the_same_outage_in_russian_and_english(first: str, second: str) -> None:
    is_same, why = same(first, second)
    assert is_same, why
    assert why.startswith("same outage: ")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("интрнет отвалился у всех", "Internet is down for the whole office"),  # a letter missing
        ("интерент не работает во всем здании", "no internet in the office"),  # two swapped
        ("printr na 3 etazhe ne pechataet", "Принтер на 3 этаже не печатает"),  # transliterated, misspelt
        ("INTERNET DOWN AGAIN???", "у нас пропал интернет, у коллег тоже"),  # shouting
    ],
)
def test_typos_transliteration_and_case_are_tolerated(first: str, second: str) -> None:
    is_same, why = same(first, second)
    assert is_same, why


def test_explanation_quotes_each_customer_own_words() -> None:
    is_same, why = same("инет лёг у всех", "Internet is down for the whole office")
    assert is_same
    assert why == (
        "same outage: internet ('инет' / 'internet') + failed ('лег' / 'down')"
        " + many affected ('у всех' / 'whole office')"
    )


@pytest.mark.parametrize(
    ("outage", "report", "because"),
    [
        ("mail server down? cant send or receive anything", "my email password expired", "'password'"),
        ("Почта не работает ни у кого", "забыл пароль от почты", "'забыл'"),
        ("wifi in the meeting room is down", "my laptop wifi adapter is broken", "'my laptop'"),
        ("в переговорке нет вай фая", "ноутбук не видит вайфай, у других работает", "'у других работает'"),
        (
            "Интернет не работает во всём офисе",
            "на моём компе не работает интернет, у остальных всё ок",
            "'на моем компе'",
        ),
        ("VPN is dead for all remote staff", "установите пожалуйста vpn клиент", "asks for something"),
        ("email is down for everyone", "please create a mailbox for the new employee", "asks for something"),
        ("1С не работает у всех", "1с обновить до новой версии, когда будет время", "'когда будет время'"),
        ("Принтер на 3 этаже не печатает", "в принтере на 3 этаже закончился тонер", "'закончился'"),
        ("наш сайт недоступен", "на сайте опечатка в контактах", "'опечатка'"),
    ],
)
def test_the_same_service_but_one_person_s_problem_or_a_request_is_not_the_outage(
    outage: str, report: str, because: str
) -> None:
    is_same, why = same(outage, report)
    assert not is_same
    assert why.startswith("not the same: ") and because in why, why


@pytest.mark.parametrize(
    ("first", "second", "because"),
    [
        ("Принтер на 3 этаже не печатает", "принтер на 5 этаже сломался", "different floors (3 / 5)"),
        ("В корпусе Б нет света", "в корпусе А нет света", "different buildings"),
        ("1С не работает у всех", "CRM is down for everyone", "different systems (erp / crm)"),
        ("вайфай не работает во всем офисе", "интернета нет ни у кого", "different services"),
        ("warehouse has no internet, scanners can't sync", "the printer by the kitchen is dead", "different services"),
    ],
)
def test_different_places_systems_and_services_are_different_outages(first: str, second: str, because: str) -> None:
    is_same, why = same(first, second)
    assert not is_same
    assert because in why, why


def test_a_report_naming_two_services_is_about_the_first() -> None:
    mixed = profile_report("warehouse has no internet, scanners can't sync")
    assert mixed.services == {"internet", "printer"}
    assert mixed.main == {"internet"}


def test_the_service_chosen_in_the_intake_counts() -> None:
    is_same, why = same("инет лёг у всех", "не работает ничего у всех, срочно", service="internet")
    assert is_same, why


def test_without_a_service_the_same_thing_failing_for_many_is_one_outage() -> None:
    is_same, why = same("турникет на входе не работает у всех", "турникет не пускает никого, очередь")
    assert is_same, why
    assert "similar wording" in why


def test_without_a_service_desk_devices_and_different_categories_stay_apart() -> None:
    assert not same("монитор мерцает", "монитор не включается")[0]
    a = profile_report("турникет на входе не работает у всех", category=Category.FACILITY)
    b = profile_report("турникет не пускает никого", category=Category.SECURITY)
    assert "different categories" in compare(a, b).explanation


def test_resolve_service_by_catalogue_key_or_word() -> None:
    assert resolve_service("business_app") == {"business_app"}
    assert resolve_service("1C") == {"erp"}
    assert resolve_service("почта") == {"email"}
    assert resolve_service("Интернет") == {"internet"}
    assert resolve_service("foo") == frozenset()


def test_normalisation_keeps_english_internet_and_printer_english() -> None:
    assert normalize("INTERNET DOWN AGAIN???") == "internet down again"
    assert normalize("printer 3rd floor offline") == "printer 3rd floor offline"
    assert normalize("ne rabotaet internet") == "не работает интернет"
    assert normalize("sait ne otkryvaetsya") == "сайт не открывается"


# --- placement: the live detector's decision, one report at a time -------------------------------


def incident(key: int, text: str, minutes: int, group: int | None = None) -> OpenIncident:
    return OpenIncident(key, cached_profile(text), T0 + timedelta(minutes=minutes), group)


def test_a_new_report_lists_the_unlinked_incidents_it_is_the_same_outage_as() -> None:
    open_incidents = [
        incident(1, "Интернет не работает во всём офисе", 0),
        incident(2, "my email password expired", 1),
        incident(3, "no internet, colleagues too", 2),
    ]
    placement = place_report(profile_report("инет лёг у всех"), open_incidents, at=T0 + timedelta(minutes=3))
    assert placement.group is None
    assert [i.key for i in placement.companions] == [1, 3] or [i.key for i in placement.companions] == [3, 1]
    assert placement.explanation and placement.explanation.startswith("same outage: internet")


def test_a_new_report_joins_the_group_it_agrees_with() -> None:
    open_incidents = [
        incident(1, "Интернет не работает во всём офисе", 0, group=1),
        incident(2, "no internet at all", 1, group=1),
        incident(3, "у нас пропал интернет, у коллег тоже", 2),
    ]
    placement = place_report(profile_report("internet is down"), open_incidents)
    assert placement.group == 1
    assert {m.incident.key for m in placement.matches} == {1, 2, 3}


def test_one_odd_member_does_not_pull_another_outage_into_a_group() -> None:
    # a group of printer reports that (wrongly) took in one internet report
    open_incidents = [
        incident(1, "Принтер на 3 этаже не печатает", 0, group=7),
        incident(2, "printer on the 3rd floor is dead", 1, group=7),
        incident(3, "3 этаж МФУ не включается", 2, group=7),
        incident(4, "интернета нет ни у кого", 3, group=7),
    ]
    placement = place_report(profile_report("Internet is down for the whole office"), open_incidents)
    assert placement.group is None
    assert [i.key for i in placement.companions] == []


def test_only_incidents_within_the_window_are_considered() -> None:
    open_incidents = [incident(1, "Интернет не работает во всём офисе", 0), incident(2, "no internet", 40)]
    found = same_outage(
        profile_report("инет лёг"), open_incidents, at=T0 + timedelta(minutes=45), window=timedelta(minutes=30)
    )
    assert [m.incident.key for m in found] == [2]


# --- known outages at intake ------------------------------------------------------------------


def test_a_first_description_matches_a_declared_outage() -> None:
    outages = [
        declared_outage("erp", "1C", "Сервер 1С недоступен, восстанавливаем"),
        declared_outage("net", "интернет"),
    ]
    match = match_known_outage("1c won't start for anyone", outages)
    assert match is not None and match.outage.key == "erp"
    assert "erp ('1C' / '1с')" in match.comparison.explanation
    match = match_known_outage("у нас инет лёг", outages)
    assert match is not None and match.outage.key == "net"


@pytest.mark.parametrize(
    "description", ["забыл пароль от 1С", "CRM не открывается", "нужен интернет в кабинет 305", "принтер не печатает"]
)
def test_a_first_description_about_something_else_matches_no_known_outage(description: str) -> None:
    outages = [declared_outage("erp", "1C", "Сервер 1С недоступен"), declared_outage("net", "internet")]
    assert match_known_outage(description, outages) is None


def test_a_first_description_matches_an_open_major_incident_by_any_of_its_reports() -> None:
    major = major_incident_outage(
        42, [("Почта не работает ни у кого", None, None), ("outlook says disconnected, colleagues too", "email", None)]
    )
    match = match_known_outage("mail server down? cant send anything", [major])
    assert match is not None and match.outage.key == 42
    assert match_known_outage("my email password expired", [major]) is None


def test_declaring_an_unknown_service_is_refused() -> None:
    with pytest.raises(UnknownService):
        declared_outage("x", "frobnicator", "down")


# --- the metric -------------------------------------------------------------------------------


def test_pairwise_quality_counts_pairs_and_never_pairs_none() -> None:
    labels = ["a", "a", "a", None, "b", "b"]
    clusters = [1, 1, None, 1, 2, 2]  # one 'a' missed, the unrelated report put with the 'a's
    q = pairwise_quality(labels, clusters)
    assert (q.true_pairs, q.predicted_pairs, q.correct_pairs) == (4, 4, 2)
    assert q.precision == 0.5 and q.recall == 0.5
    assert pairwise_quality([None, None], [None, None]).precision == 1.0


@pytest.mark.parametrize("text", ["", "   ", "😡😡😡", "<b>HELP</b> &amp; <script>x</script>", "a" * 10_000])
def test_odd_texts_are_read_and_never_grouped(text: str) -> None:
    report = profile_report(text)
    assert not report.outage_like
    assert compare(report, profile_report("инет лёг у всех")).explanation.startswith("not the same: nothing failed")


def test_a_long_report_is_still_read() -> None:
    report = profile_report("интернет не работает у всех " * 400)
    assert report.services == {"internet"} and report.outage_like
