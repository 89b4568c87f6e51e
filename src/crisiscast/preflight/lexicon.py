"""Word lists the gate recognises, per language (English and Spanish).

Each element is a list of phrases matched as whole words, case-insensitively. The lists are
deliberately plain: the gate asks "does a sentence name a place?", not "is it the right
place?" — the approvers judge the rest. A language without lists gets every element
reported as missing, which is the honest answer: nobody checked it.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["COLOUR_CODES", "colour_code_pattern", "element_pattern"]

_ELEMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "hazard": {
        "en": (
            "fire", "smoke", "flames", "weapon", "gun", "shooter", "shooting", "firearm", "knife", "bomb",
            "explosive", "explosion", "suspicious package", "threat", "chemical", "spill", "hazardous",
            "gas", "leak", "fumes", "earthquake", "aftershock", "flood", "flooding", "tornado", "storm",
            "hurricane", "severe weather", "outage", "power", "electricity", "water", "oxygen",
            "medical gas", "phones", "phone", "network", "computer", "computers", "systems", "casualties",
            "injured", "patients arriving", "missing", "abduction", "abducted", "radiation", "radioactive",
            "contamination", "contaminated", "hostage", "barricaded", "armed", "infectious", "infection",
            "outbreak", "disease", "shortage", "short of staff", "diversion", "closed", "closure",
            "wildfire", "air quality", "violence", "violent", "all clear", "is over", "has ended",
            "not working", "down", "failure", "mass casualty", "patients expected", "surge",
        ),
        "es": (
            "incendio", "fuego", "humo", "arma", "armada", "armado", "tirador", "disparos", "cuchillo",
            "bomba", "explosivo", "explosión", "paquete sospechoso", "amenaza", "químico", "química",
            "químicos", "derrame", "peligrosa", "peligrosas", "gas", "fuga", "vapores", "terremoto",
            "sismo", "réplica", "inundación", "tornado", "tormenta", "huracán", "tiempo severo", "caída",
            "corte", "apagón", "electricidad", "luz", "agua", "oxígeno", "gases medicinales", "teléfono",
            "teléfonos", "red", "informáticos", "sistemas", "víctimas", "heridos", "desaparecido",
            "desaparecida", "secuestro", "sustracción", "radiación", "radiactivo", "radiactiva",
            "contaminación", "rehén", "rehenes", "atrincherada", "atrincherado", "infecciosa", "infección",
            "brote", "enfermedad", "falta de personal", "escasez", "desvío", "cerrado", "cerrada",
            "cerrados", "cerradas",
            "incendio forestal", "calidad del aire", "violencia", "fin de la alerta", "ha terminado",
            "ha finalizado", "fallo", "avería", "no funciona", "víctimas múltiples", "aumento de pacientes",
        ),
    },
    "location": {
        "en": (
            "building", "floor", "level", "wing", "unit", "room", "ward", "tower", "campus", "entrance",
            "area", "department", "parking", "garage", "clinic", "lobby", "site", "sites", "hospital",
            "north", "south", "east", "west", "here", "nearby", "county", "city", "region",
            "buildings", "floors", "units", "areas", "rooms", "grounds", "emergency room",
        ),
        "es": (
            "edificio", "planta", "piso", "nivel", "ala", "unidad", "sala", "habitación", "torre", "campus",
            "entrada", "zona", "área", "servicio", "urgencias", "aparcamiento", "estacionamiento",
            "clínica", "vestíbulo", "sede", "sedes", "hospital", "norte", "sur", "este", "oeste", "aquí",
            "cerca", "condado", "ciudad", "región",
            # building names often stay in English in a Spanish message ("Building A, floor 3")
            "building", "floor", "wing", "tower", "unit", "lobby", "campus", "department", "room",
        ),
    },
    "protective_action": {
        "en": (
            "leave", "evacuate", "stay", "shelter", "lock", "avoid", "go", "move", "close", "keep",
            "do not", "don't", "call", "report", "use", "follow", "return", "wait", "check", "wear",
            "turn off", "hide", "run", "take cover", "come", "put on", "listen", "silence", "prepare",
            "bring", "send", "look", "protect", "tell", "reply", "switch", "plug", "unplug", "shut", "open",
            "turn on", "save", "pull", "stop", "drop", "cover", "hold on", "start", "limit", "watch", "ask",
            "wash", "rinse", "get out", "take",
        ),
        "es": (
            "salga", "salgan", "evacúe", "evacúen", "permanezca", "quédese", "cierre", "evite", "vaya",
            "diríjase", "mantenga", "no use", "no utilice", "llame", "informe", "use", "utilice", "siga",
            "vuelva", "espere", "compruebe", "revise", "póngase", "apague", "escóndase", "resguárdese",
            "acuda", "aléjese", "cúbrase", "prepare", "preséntese", "avise", "lleve", "desconecte",
            "proteja", "refúgiese", "regrese", "continúe", "envíe", "mire", "responda", "diga",
            "no se acerque", "no toque", "no salga", "no entre", "no coma", "no beba", "enchufe",
            "desenchufe", "abra", "guarde", "active", "vigile", "pida", "lávese", "agáchese", "huya", "entre",
            "saque",
        ),
    },
    "time": {
        "en": (
            "now", "immediately", "until", "today", "tonight", "this morning", "this afternoon",
            "this evening", "since", "further notice", "next update", "as of", "right away", "at once",
            "minutes", "hours", "by \\d", "at \\d", "\\d{1,2}:\\d{2}", "\\d{1,2} ?(?:am|pm)", "is over",
            "has ended", "ended",
        ),
        "es": (
            "ahora", "inmediatamente", "hasta", "hoy", "esta noche", "esta mañana", "esta tarde", "desde",
            "nuevo aviso", "próxima actualización", "en este momento", "de inmediato", "ya", "minutos",
            "horas", "a las \\d", "antes de las \\d", "\\d{1,2}:\\d{2}", "ha terminado", "ha finalizado",
        ),
    },
}  # fmt: skip

# Hospital colour codes and the plain words that must stand beside a code when one is used.
COLOUR_CODES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "red": ("fire",),
        "silver": ("weapon", "shooter", "gun", "armed"),
        "pink": ("child", "infant", "baby", "abduction"),
        "adam": ("child", "infant", "baby", "abduction"),
        "amber": ("child", "infant", "baby", "abduction"),
        "orange": ("chemical", "hazardous", "hazmat", "spill"),
        "black": ("bomb", "explosive"),
        "blue": ("medical emergency", "cardiac arrest", "not breathing"),
        "grey": ("violent", "combative", "weather", "aggressive"),
        "gray": ("violent", "combative", "weather", "aggressive"),
        "white": ("violent", "aggressive", "evacuation"),
        "yellow": ("missing", "bomb", "disaster"),
        "green": ("evacuate", "evacuation", "mass casualty"),
        "purple": ("hostage", "child", "abduction"),
        "brown": ("severe weather", "missing"),
        "triage": ("mass casualty", "casualties", "injured"),
    },
    "es": {
        "rojo": ("incendio", "fuego"),
        "plateado": ("arma", "armada", "armado", "tirador"),
        "plata": ("arma", "armada", "armado", "tirador"),
        "rosa": ("niño", "niña", "bebé", "secuestro", "menor"),
        "naranja": ("químico", "química", "peligrosa", "derrame"),
        "negro": ("bomba", "explosivo"),
        "azul": ("emergencia médica", "parada cardiaca", "parada cardíaca"),
        "gris": ("violenta", "violento", "agresiva", "agresivo", "tormenta"),
        "blanco": ("violenta", "violento", "evacuación"),
        "amarillo": ("desaparecido", "desaparecida", "bomba"),
        "verde": ("evacúe", "evacuación", "víctimas"),
        "morado": ("rehén", "rehenes", "secuestro"),
    },
}

_CODE_WORD = {"en": r"code", "es": r"c[óo]digo"}


@cache
def element_pattern(element: str, language: str) -> re.Pattern[str] | None:
    """A pattern matching any phrase of ``element`` in ``language``; None without a list."""
    phrases = _ELEMENTS[element].get(language.split("-", maxsplit=1)[0])
    if not phrases:
        return None
    joined = "|".join(p.replace(" ", r"\s+") for p in phrases)
    return re.compile(rf"(?<!\w)(?:{joined})(?!\w)", re.IGNORECASE)


@cache
def colour_code_pattern(language: str) -> re.Pattern[str] | None:
    """A pattern matching "Code Red" / "Código rojo" …; group 1 is the colour (lower case)."""
    root = language.split("-", maxsplit=1)[0]
    codes = COLOUR_CODES.get(root)
    if not codes:
        return None
    return re.compile(rf"(?<!\w){_CODE_WORD[root]}\s+({'|'.join(codes)})(?!\w)", re.IGNORECASE)
