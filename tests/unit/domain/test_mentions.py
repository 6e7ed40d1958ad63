"""The mentions an invoice carries besides its amounts, in the invoice's language."""

from __future__ import annotations

from decimal import Decimal

from portal.domain.mentions import french_mention_notes, party_numbers, register_label


def french_mentions(**values) -> list[str]:
    return [text for _code, text in french_mention_notes(**values)]


def test_a_french_register_number_is_named_siren_or_siret() -> None:
    assert register_label("732829320", "FR", "fr") == "SIREN 732829320"
    assert register_label("73282932000074", "FR", "en") == "SIRET 73282932000074"
    assert register_label("HRB 86891", "DE", "en") == "Register no. HRB 86891"
    assert register_label("HRB 86891", "DE", "fr") == "Immatriculation HRB 86891"


def test_a_partys_numbers_are_labelled_lines() -> None:
    assert party_numbers("732829320", "FR40303265045", "FR", "fr") == ["SIREN 732829320", "TVA FR40303265045"]
    assert party_numbers("", "DE136695976", "DE", "en") == ["VAT no. DE136695976"]
    assert party_numbers("", "", "", "en") == []


def test_the_legal_defaults_in_french_for_a_business_client() -> None:
    lines = french_mentions(
        nature="services",
        late_penalty_rate=None,
        early_payment_discount=None,
        business_client=True,
        locale="fr",
    )
    assert lines == [
        "Nature de l’opération : prestation de services.",
        "Pénalités de retard : taux de refinancement de la Banque centrale européenne majoré de 10 points, "
        "exigibles dès le lendemain de la date d’échéance.",
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 € (article "
        "L441-10 du Code de commerce).",
        "Pas d’escompte pour paiement anticipé.",
    ]


def test_chosen_rates_are_written_in_the_readers_numbers_and_a_person_owes_no_indemnity() -> None:
    lines = french_mentions(
        nature="mixed",
        late_penalty_rate=Decimal("12.50"),
        early_payment_discount=Decimal("2.00"),
        business_client=False,
        locale="fr",
    )
    assert "Pénalités de retard : 12,5 % par an, exigibles dès le lendemain de la date d’échéance." in lines
    assert "Escompte pour paiement anticipé : 2 %." in lines
    assert not any("40 €" in line for line in lines)
    english = french_mentions(
        nature="goods",
        late_penalty_rate=Decimal("12.5"),
        early_payment_discount=None,
        business_client=True,
        locale="en",
    )
    assert english[0] == "Nature of the operation: sale of goods."
    assert english[1] == "Late payment penalties: 12.5% a year, due from the day after the due date."
    assert english[2].startswith("Fixed indemnity for recovery costs in case of late payment: 40 €")
