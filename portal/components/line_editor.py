"""The line editor of invoices, estimates and proposals: date, service, quantity, unit price and tax per
line, add and remove lines, and totals that follow the typing.

The totals come from `line_input.preview`, which parses the text with `parse_amount` and rounds each
line's tax with `portal.domain.tax`: the same code the services run when they store the document. A field's
error shows under it once it has been changed (or after Save, for every field).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from nicegui import ui
from nicegui.elements.mixins.validation_element import ValidationElement

from portal.billing.line_input import NO_TAX, LineForm, Preview, TaxChoice, by_key, line_field, preview
from portal.components.attributes import set_props
from portal.domain.money import format_money
from portal.i18n import _

FIELDS = ("date", "description", "quantity", "unit_price", "tax")
MARKERS = {"unit_price": "price"}
"""Test handles: `line-date-0`, `line-description-0`, `line-quantity-0`, `line-price-0`, `line-tax-0`."""


class LineEditor:
    """Editable lines with live totals; `forms()` returns what is typed, `validate()` shows every error."""

    def __init__(
        self,
        *,
        locale: str,
        currency: str,
        taxes: Sequence[TaxChoice],
        lines: Sequence[LineForm],
        default_date: str = "",
        on_change: Callable[[], None] | None = None,
        reverse_charge: bool = False,
    ) -> None:
        self.locale = locale
        self.reverse_charge = reverse_charge  # no tax on any line: the tax menus show 0% and are disabled
        self.currency = currency
        self.taxes = list(taxes)
        self.tax_map = by_key(self.taxes)
        self.lines = [replace(line) for line in lines] or [LineForm(date=default_date)]
        self.default_date = default_date
        self.on_change = on_change
        self.touched: set[str] = set()
        self.inputs: dict[str, ValidationElement] = {}
        self.amounts: list[ui.label] = []
        self.last: Preview | None = None
        with ui.column().classes("w-full gap-2").mark("line-editor"):
            self.rows()
            with ui.row().classes("w-full items-start justify-between gap-4"):
                with ui.column().classes("gap-1"):
                    ui.button(_("Add line"), icon="add", on_click=self.add_line).props("flat no-caps").mark(
                        "add-line"
                    )
                    self.lines_error = ui.label().classes("text-negative text-sm").mark("lines-error")
                with ui.column().classes("min-w-[16rem] gap-1"):
                    self.subtotal = self._total_row(_("Subtotal"), "subtotal")
                    self.tax = self._total_row(_("Tax"), "tax-total")
                    ui.separator()
                    self.total = self._total_row(_("Total"), "total", strong=True)
        self.recompute()

    # -- layout ------------------------------------------------------------------------------------
    @staticmethod
    def _total_row(label: str, marker: str, *, strong: bool = False) -> ui.label:
        with ui.row().classes("w-full justify-between items-baseline no-wrap gap-6"):
            ui.label(label).classes("font-semibold" if strong else "text-gray-700")
            value = ui.label().classes("tabular-nums " + ("text-xl font-semibold" if strong else ""))
        return value.mark(marker)

    @ui.refreshable_method
    def rows(self) -> None:
        """One row of inputs per line."""
        self.inputs.clear()
        self.amounts.clear()
        for index, line in enumerate(self.lines):
            self._row(index, line)

    def _row(self, index: int, line: LineForm) -> None:
        options = {choice.key: choice.label for choice in self.taxes}
        if self.reverse_charge:
            options = {NO_TAX: _("0% (reverse charge)")}
        if line.tax not in options:
            line.tax = next(iter(options))
        with ui.row().classes("w-full items-start gap-2 max-md:flex-wrap").mark(f"line-{index}"):
            elements = {
                "date": ui.input(_("Date"), value=line.date)
                .props("type=date stack-label outlined dense")
                .classes("w-40"),
                "description": ui.input(_("Service"), value=line.description)
                .props("outlined dense maxlength=500")
                .classes("grow min-w-[12rem]"),
                "quantity": ui.input(_("Quantity"), value=line.quantity)
                .props("outlined dense inputmode=decimal")
                .classes("w-24"),
                "unit_price": set_props(
                    ui.input(_("Unit price"), value=line.unit_price).props(
                        "outlined dense inputmode=decimal"
                    ),
                    {"suffix": self.currency},
                ).classes("w-40"),
                "tax": ui.select(options, value=line.tax, label=_("Tax"))
                .props("outlined dense options-dense")
                .classes("w-48"),
            }
            for name, element in elements.items():
                element.without_auto_validation()  # errors are set here, not by a validation function
                element.mark(f"line-{MARKERS.get(name, name)}-{index}")
                element.on_value_change(lambda event, i=index, n=name: self._changed(i, n, event.value))
                self.inputs[line_field(index, name)] = element
            if self.reverse_charge:
                elements["tax"].disable()
            self.amounts.append(
                ui.label().classes("w-28 pt-2 text-right tabular-nums").mark(f"line-amount-{index}")
            )
            remove = ui.button(icon="delete", on_click=lambda i=index: self.remove_line(i)).props(
                "flat round dense"
            )
            remove.props["aria-label"] = _("Remove line")
            remove.mark(f"line-remove-{index}")

    # -- changes -----------------------------------------------------------------------------------
    def _changed(self, index: int, name: str, value: object) -> None:
        if index >= len(self.lines):
            return
        setattr(self.lines[index], name, "" if value is None else str(value))
        self.touched.add(line_field(index, name))
        self.recompute()
        if self.on_change:
            self.on_change()

    def add_line(self) -> None:
        """Append an empty line dated like the others."""
        self.lines.append(LineForm(date=self.default_date))
        self.rows.refresh()
        self.recompute()

    def remove_line(self, index: int) -> None:
        """Drop a line (the others move up, with what was typed in them)."""
        if index >= len(self.lines):
            return
        del self.lines[index]
        moved = set()
        for name in self.touched:
            parts = name.split(".")
            if len(parts) == 3 and parts[1].isdigit():
                position = int(parts[1])
                if position == index:
                    continue
                name = line_field(position - 1 if position > index else position, parts[2])
            moved.add(name)
        self.touched = moved | {"lines"}
        self.rows.refresh()
        self.recompute()
        if self.on_change:
            self.on_change()

    def set_currency(self, currency: str) -> None:
        """Another currency: prices are checked against its decimals and totals are shown in it."""
        self.currency = currency
        self.rows.refresh()
        self.recompute()

    # -- totals and errors -------------------------------------------------------------------------
    def recompute(self, *, show_all: bool = False) -> Preview:
        """Totals and per-line amounts of what is typed; errors under the fields staff changed."""
        if show_all:
            self.touched |= {line_field(i, n) for i in range(len(self.lines)) for n in FIELDS} | {"lines"}
        result = preview(
            self.lines,
            currency=self.currency,
            locale=self.locale,
            taxes=self.tax_map,
            reverse_charge=self.reverse_charge,
        )
        self.last = result
        money = self._money
        for label, amount in zip(self.amounts, result.line_net_minor, strict=False):
            label.set_text(money(amount) if amount is not None else "—")
        self.subtotal.set_text(money(result.subtotal_minor))
        self.tax.set_text(money(result.tax_minor))
        self.total.set_text(money(result.total_minor))
        shown = self.touched | self._described_needed()
        for name, element in self.inputs.items():
            element.error = result.errors.get(name) if name in shown else None
        self.lines_error.set_text(result.errors.get("lines", "") if "lines" in self.touched else "")
        return result

    def _described_needed(self) -> set[str]:
        """The service fields of lines whose quantity or price was typed: a missing service shows at once."""
        return {
            line_field(index, "description")
            for index in range(len(self.lines))
            if {line_field(index, "quantity"), line_field(index, "unit_price")} & self.touched
        }

    def _money(self, amount_minor: int | None) -> str:
        if amount_minor is None:
            return "—"
        try:
            return format_money(amount_minor, self.currency, self.locale)
        except Exception:  # an unknown currency code: the page shows that error at the currency field
            return "—"

    def validate(self) -> dict[str, str]:
        """Show every error now; return them by field (empty when the lines can be saved)."""
        return self.recompute(show_all=True).errors

    def show_errors(self, errors: Mapping[str, str]) -> bool:
        """Show errors a service reported for line fields; True if any of them was about the lines."""
        shown = False
        for name, message in errors.items():
            if name in self.inputs:
                self.touched.add(name)
                self.inputs[name].error = message
                shown = True
            elif name == "lines":
                self.lines_error.set_text(message)
                shown = True
        return shown

    def forms(self) -> list[LineForm]:
        """The lines as typed."""
        return [replace(line) for line in self.lines]
