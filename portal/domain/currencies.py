"""ISO 4217 minor units: the portal's own table, the only place that says how many decimals a currency has.

Source: ISO 4217 List One (current currency and funds codes) as published by SIX, the maintenance agency,
on 2025-05-12, with its "minor unit" column; checked in on 2026-12-03. Entries whose minor unit is
"N.A." (precious metals, SDR, bond-market units, testing and "no currency" codes: XAG, XAU, XBA, XBB, XBC,
XBD, XDR, XPD, XPT, XSU, XTS, XUA, XXX, XAD) are left out: nobody is invoiced in them. BGN stays although
Bulgaria adopted the euro on 2026-01-01, so that amounts stored in it stay readable.

Why our own table: every amount is stored as an integer count of minor units, and its meaning depends on
this exponent. Library data moves (babel 2.19 follows a CLDR where HUF, COP and IDR have 0 decimals, and
babel 2.18 gave 0 for LBP, IQD, RSD and ten others), and a silent change would multiply or divide stored
money by 100 and change what is sent to a payment gateway.

THE RULE: an exponent in this table changes only together with a data migration that rescales the stored
amounts of that currency. `tests/unit/domain/test_currencies.py` fails when `fingerprint()` of this table has
no migration named `NNNN_currency_exponents_<first 12 hex digits of the fingerprint>` in
`portal/db/migrations/`. To change an exponent (or add or remove a code): edit the table, write that
migration (it rescales every `*_minor` column of the currency; see 0003 for the shape), and name it after
the new fingerprint. Gateways keep their own exceptions (Stripe's in
`portal/payments/gateways/stripe_amounts.py`).
"""

from __future__ import annotations

import hashlib

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = """
AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE
CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD
HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP
MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD
SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS
VED VES WST XCD XCG YER ZAR ZMW ZWG
"""

MINOR_UNITS: dict[str, int] = {
    code: exponent
    for exponent, codes in ((0, _ZERO), (2, _TWO), (3, _THREE), (4, _FOUR))
    for code in codes.split()
}
"""ISO 4217 code -> number of decimals of its minor unit (JPY 0, USD 2, KWD 3, CLF 4)."""


def fingerprint(table: dict[str, int] | None = None) -> str:
    """SHA-256 of the table as sorted 'CODE=exponent' lines: it changes with any code or exponent."""
    lines = "\n".join(f"{code}={exp}" for code, exp in sorted((table or MINOR_UNITS).items()))
    return hashlib.sha256(lines.encode("ascii")).hexdigest()


def migration_suffix(table: dict[str, int] | None = None) -> str:
    """The name the migration that brought the stored amounts to this table must end with."""
    return f"_currency_exponents_{fingerprint(table)[:12]}"
