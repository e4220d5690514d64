"""Peru's mobile networks by the network code delivery reports carry (`networkCode`: MCC + MNC).

Peru's mobile country code is 716. The network codes and who holds them, from the list of
ITU-T E.212 assignments as kept in Wikipedia's "Mobile Network Codes in ITU region 7xx (South
America)", Peru section (https://en.wikipedia.org/wiki/Mobile_Network_Codes_in_ITU_region_7xx_(South_America);
checked against its copy in github.com/pbakondy/mcc-mnc-list, mcc-mnc-list.json of 2023-04-04).
The authoritative list is the ITU's (Annex to the ITU Operational Bulletin, "Mobile Network
Codes (MNC) for the international identification plan for public networks and subscriptions").
The report and the dashboard show the brand; a code not in this table is shown as it came.
"""

from __future__ import annotations

MCC_PERU = "716"
# networkCode -> the brand staff know it by (the company holding the code in the comment).
OPERATORS: dict[str, str] = {
    "71606": "Movistar",  # Telefónica del Perú S.A.A.
    "71607": "Entel",  # Entel Perú S.A. (the former Nextel's iDEN network)
    "71610": "Claro",  # América Móvil Perú (the former TIM)
    "71615": "Bitel",  # Viettel Perú S.A.C.
    "71617": "Entel",  # Entel Perú S.A. (the former Nextel)
}


def operator_name(code: str) -> str | None:
    """The brand of network `code`, or None when the table does not know it."""
    return OPERATORS.get(code)


def operator_label(code: str, unknown: str) -> str:
    """"Claro (71610)"; a code the table does not know: "71699 (`unknown`)"."""
    name = operator_name(code)
    return f"{name} ({code})" if name else f"{code} ({unknown})"
