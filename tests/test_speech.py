"""The voice channel's speech: every screen text of every language is read back into catalog
keys and spoken as phrases and data, and the prompt set asked for covers every phrase said."""

from __future__ import annotations

import re

import pytest

from core.catalogs import load_catalog
from dialogs.speech import SLOT, Phrase, SpeechIndex, Text, required_prompts, spoken_keys
from dialogs.texts import LANGUAGES, Catalog

CATALOGS = {"reviewed": load_catalog(), "drafts": load_catalog(drafts=True)}
# Where a placeholder holds catalog text, the key it comes from (filled in that language).
NESTED = {"dates": ("dates_range", {"start": "04/12", "end": "06/12/2026"}),
          "state": ("state_cobrado", {}), "reason": ("reason_INC_SALUD", {}),
          "action": ("action_SUSPENDIDO", {"helpline": "1880"}), "type": ("type_salud", {})}
SAMPLES = {"name": "Rosa", "periodo": "2026-6", "open": "08:00", "close": "16:30",
           "place": "Agencia BN Juliaca", "address": "Jr. Lima 123", "helpline": "1880",
           "code": "*1880#", "masked": "*** *** 321", "new": "*** *** 654", "old": "*** *** 321",
           "minutes": "30", "left": "2", "count": "3", "cap": "20", "hours": "72",
           "amount": "200.00", "member": "Ana", "detail": "falto 3 dias", "initials": "R.Q.",
           "n": "1", "day": "04/12", "date": "04/12", "start": "04/12", "end": "06/12/2026"}
TEXT_SLOTS = {"name", "place", "address", "member", "detail", "initials"}  # said as written


def sample(catalog: Catalog, lang: str, key: str) -> str:
    values: dict[str, str] = {}
    for name in SLOT.findall(catalog.text(lang, key)):
        if name == "which":
            values[name] = catalog.text(lang, "pay_last_dates", periodo="2026-5",
                                        dates=catalog.text(lang, "dates_one", day="04/12/2026"))
        elif name in NESTED:
            nested, params = NESTED[name]
            values[name] = catalog.text(lang, nested, **params)
        else:
            values[name] = SAMPLES[name]
    return catalog.text(lang, key, **values)


def screen_keys(catalog: Catalog) -> list[str]:
    return [k for k in spoken_keys(catalog) if not k.startswith("voice_")
            and set(SLOT.findall(catalog.text("es", k))) <= set(SAMPLES) | set(NESTED) | {"which"}]


@pytest.mark.parametrize("mode", CATALOGS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_screen_text_is_spoken_from_the_catalog(mode: str, lang: str) -> None:
    catalog = CATALOGS[mode]
    index = SpeechIndex(catalog)
    required = {(r.lang, r.name) for r in required_prompts(catalog)}
    keys = screen_keys(catalog)
    assert len(keys) > 100
    for key in keys:
        text = sample(catalog, lang, key)
        assert index.unmatched(lang, text) == [], (key, text)
        prompts = index.speak(lang, text)
        assert prompts, key
        for prompt in prompts:
            if isinstance(prompt, Phrase):
                assert (prompt.lang, prompt.name) in required, (key, prompt)
            else:  # only names and places are said as written, never a number or a code
                assert isinstance(prompt, Text) and prompt.value in {
                    SAMPLES[s] for s in TEXT_SLOTS}, (key, prompt)


def test_a_menu_is_read_as_what_to_press_and_data_as_data() -> None:
    catalog = CATALOGS["reviewed"]
    index = SpeechIndex(catalog)
    said = {r.name: r.text for r in required_prompts(catalog) if r.lang == "es"}

    def words(text: str) -> str:
        return " ".join(said[p.name] if isinstance(p, Phrase) else f"<{p.value}>"
                        for p in index.speak("es", text))

    menu = catalog.text("es", "main_menu", name="Rosa")
    assert words(menu).startswith("Hola <Rosa> Mi Juntos Para Proximo pago marque uno Para Estado")
    assert words(menu).endswith("Para Salir marque cero")
    pay = sample(catalog, "es", "pay_agencia")
    spoken = words(pay)
    assert "bimestre seis de dos mil veintiseis" in spoken
    assert "del cuatro de diciembre al seis de diciembre" in spoken
    assert "las ocho" in spoken and "las dieciseis y treinta" in spoken
    assert spoken.endswith("con tarjeta en <Agencia BN Juliaca>")
    assert words(catalog.text("es", "nav_full")) == said["voice_nav_full"]
    assert "uno ocho ocho cero" in words(catalog.text("es", "screen_bye", helpline="1880"))
    assert re.search(r"terminado en tres dos uno", words(sample(catalog, "es", "remind_other")))


def test_a_person_s_name_is_never_a_cached_file_and_quechua_numbers_are_quechua() -> None:
    catalog = CATALOGS["drafts"]
    index = SpeechIndex(catalog)
    [name] = [p for p in index.speak("qu", catalog.text("qu", "main_menu", name="Rosa"))
              if isinstance(p, Text)]
    assert name.person and name.lang == "qu"
    [place] = [p for p in index.speak("qu", sample(catalog, "qu", "pay_agencia")) if isinstance(p, Text)]
    assert not place.person
    said = {(r.lang, r.name): r.text for r in required_prompts(catalog)}
    assert said[("qu", "voice_num_37")] == "kimsa chunka qanchisniyuq"
    assert said[("ay", "voice_digit_4")] == "pusi"
