"""Language: the declaration when the text agrees, the text's language otherwise."""

from __future__ import annotations

from newsflow.extract.language import detect_language, normalise_code

SPANISH = ("El ayuntamiento aprobó ayer el presupuesto para el próximo año después de un largo "
           "debate en el que participaron todos los grupos políticos de la ciudad.")
ENGLISH = ("The council approved next year's budget yesterday after a long debate in which "
           "every political group in the city took part.")


def test_undeclared_language_is_detected() -> None:
    assert detect_language(SPANISH, None) == "es"
    assert detect_language(ENGLISH, "") == "en"


def test_wrong_declaration_is_overridden() -> None:
    assert detect_language(SPANISH, "en-US") == "es"


def test_right_declaration_is_kept_and_normalised() -> None:
    assert detect_language(ENGLISH, "EN_gb") == "en"


def test_short_text_keeps_the_declaration() -> None:
    assert detect_language("Hola", "pt-BR") == "pt"
    assert detect_language("Hola", None) is None


def test_normalise_code() -> None:
    assert normalise_code("de-DE") == "de"
    assert normalise_code("x") is None
    assert normalise_code(None) is None
