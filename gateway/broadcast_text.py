"""What a broadcast text may say: one or two GSM-7 parts, and nothing personal (checked on the server).

Anyone may read a shared phone and fraudsters imitate programme SMS, so an SMS never carries
a DNI, a phone number, an amount, a name or health details (docs: DOMAIN "Identity and
privacy"). The checks below catch the obvious cases; the staff member still reads the preview.
"""

from __future__ import annotations

import re
import unicodedata

from dialogs.gsm import gsm_safe, is_gsm7, sms_parts

MAX_PARTS = 2  # 306 GSM-7 characters: a longer text costs more than it informs
MAX_CHARS = 153 * MAX_PARTS

PHONE = re.compile(r"(?<![\d+])(?:\+?\s?51[\s.-]?)?9\d{2}[\s.-]?\d{3}[\s.-]?\d{3}(?!\d)")
DIGIT_RUN = re.compile(r"(?<!\d)\d(?: ?\d){7,}(?!\d)")  # "01234567", "0123 4567"
AMOUNT = re.compile(
    r"\bS\s*/\s*\.?\s*[\d.,]*|\bPEN\s*\d[\d.,]*|\d[\d.,]*\s*(?:nuevos\s+)?soles\b|\bsoles\s*\d"
    r"|\b(?:monto|abono|bono|incentivo)\s+(?:de\s+)?\d[\d.,]*",
    re.IGNORECASE,
)
# A greeting or a family word followed by a capitalised word: "Hola Rosa", "Sra. Quispe",
# "su hijo Luis". Words that are not names ("Estimada Titular") are let through.
NAMED = re.compile(
    r"\b(?i:sra|sr|senora|senor|don|dona|estimad[ao]|querid[ao]|hola|titular|hij[ao]|nin[ao]"
    r"|menor|bebe|madre|gestante)\.?,?\s+([A-Z][a-z]+)"
)
NOT_NAMES = {"Titular", "Familia", "Madre", "Madres", "Usuaria", "Usuario", "Juntos", "Mi", "Senora",
             "Senor", "Beneficiaria", "Hogar", "Hogares", "Vecina", "Vecino", "Comunidad", "Socia"}
# Health details and a household's status or reason: never in an unsolicited SMS.
SENSITIVE = re.compile(
    r"\b(?:cred|prenatal\w*|embaraz\w*|gestant\w*|vacun\w*|anemi\w*|desnutri\w*|enferm\w*"
    r"|diagnos\w*|tuberculosis|vih|discapacidad\w*|incumpl\w*|no\s+cumpli\w*|suspendid\w*"
    r"|desafiliad\w*|sin\s+abono)",
    re.IGNORECASE,
)


def plain(text: str) -> str:
    """`text` without accents (a for á, n for ñ), for matching words however they are typed."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def gsm_version(text: str) -> str:
    """`text` in GSM-7: accented letters as plain letters, emoji and the like left out."""
    out = []
    for ch in text:
        if is_gsm7(ch):
            out.append(ch)
        else:
            safe = gsm_safe(ch)
            out.append("" if "?" in safe else safe)
    return re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()


def _quoted(found: list[str]) -> str:
    seen = list(dict.fromkeys(found))
    return ", ".join(f'"{item}"' for item in seen[:5]) + (" ..." if len(seen) > 5 else "")


def problems(text: str) -> list[str]:
    """Why `text` may not be sent, in plain Spanish for staff (empty: it may be sent)."""
    out: list[str] = []
    if not is_gsm7(text):
        bad = [ch for ch in text if not is_gsm7(ch)]
        out.append(f"El mensaje tiene caracteres que muchos celulares no muestran bien y que triplican "
                   f"el costo del SMS: {_quoted(bad)}. Use letras sin tilde y sin emojis.")
    encoding, parts = sms_parts(text)
    if parts > MAX_PARTS:
        out.append(f"El mensaje es muy largo: ocuparia {parts} partes de SMS ({encoding.upper()}). "
                   f"El maximo es {MAX_PARTS} partes ({MAX_CHARS} caracteres sin tildes).")
    phones = [m.group(0).strip() for m in PHONE.finditer(text)]
    if phones:
        out.append(f"El mensaje tiene un numero de celular ({_quoted(phones)}). Los SMS no llevan "
                   f"numeros de personas; indique la linea gratuita 1880 si hace falta.")
    runs = [m.group(0) for m in DIGIT_RUN.finditer(PHONE.sub(" ", text))]
    if runs:
        out.append(f"El mensaje tiene un numero de 8 o mas cifras, como un DNI ({_quoted(runs)}). "
                   f"Los SMS nunca llevan el DNI.")
    amounts = [m.group(0).strip() for m in AMOUNT.finditer(plain(text))]
    if amounts:
        out.append(f"El mensaje menciona un monto ({_quoted(amounts)}). Los SMS no llevan montos: "
                   f"cualquiera puede leer un celular compartido y los estafadores los imitan.")
    names = [m.group(0) for m in NAMED.finditer(plain(text)) if m.group(1) not in NOT_NAMES]
    sensitive = [m.group(0) for m in SENSITIVE.finditer(plain(text))]
    if names or sensitive:
        out.append(f"El mensaje parece tener datos personales ({_quoted(names + sensitive)}). Los SMS "
                   f"no llevan nombres, datos de salud ni la situacion de un hogar (suspension, "
                   f"incumplimiento).")
    return out
