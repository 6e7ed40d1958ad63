"""A page's event handler keeps the page's language even when the element it was started from is redrawn
away while it awaits (a payment settling refreshes the list holding the Pay button): the French pay-all
page answered "Thank you! We received ..." in English once storing the receipt gave that redraw time to
run. `tests/e2e/test_pay_all_e2e.py[fr]` shows it in Chromium; this shows the rule on the slot stack."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from nicegui import slot

from portal import i18n


class _Deleted:
    @property
    def parent(self) -> object:
        raise RuntimeError("The parent element this slot belongs to has been deleted.")


async def test_the_page_is_found_below_a_slot_whose_element_was_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = SimpleNamespace(portal_locale="fr")
    outer = SimpleNamespace(parent=SimpleNamespace(client=page))
    monkeypatch.setitem(slot.Slot.stacks, slot.get_task_id(), [outer, _Deleted()])
    with i18n.locale_scope(None):  # nothing set in this task: the page decides
        i18n._locale_var.set(None)
        assert i18n._ui_client() is page
        assert i18n.get_locale() == "fr"


async def test_without_any_living_slot_it_is_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(slot.Slot.stacks, slot.get_task_id(), [_Deleted()])
    with i18n.locale_scope(None):
        i18n._locale_var.set(None)
        assert i18n._ui_client() is None and i18n.get_locale() == "en"
