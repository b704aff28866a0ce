"""Synthetic exports: file names, and the word lists, sizes and rates schools are drawn from."""

from __future__ import annotations

import re

EXPORT_FILE = "EDEX.XML"
CONSENT_FILE = "toestemmingen.csv"
CONSENT_HEADER = ("leerlingkey", "schooljaar", "categorie", "waarde", "gewijzigd_op")
CONSENT_CATEGORIES = (
    "beeldmateriaal_website",
    "beeldmateriaal_nieuwsbrief",
    "deelname_onderzoek",
    # Parro asks for photos separately; last, so the other categories' draws stay as they were.
    "beeldmateriaal_parro",
)

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI}}}type"
SCHOOLJAAR = re.compile(r"(\d{4})-(\d{4})")
# 26 * 26 letter pairs times 100 digit pairs: the whole \d{2}[A-Z]{2} space.
BRIN_SPACE = 100 * 26 * 26
# Group size a Dutch primary school aims for; with fewer pupils per year, adjacent years
# are taught together in a combination group.
GROUP_SIZE = 27
# BSN bodies come from an affine permutation of a running counter, so no two synthetic
# pupils share a BSN across all schools of one run (up to 10**8 numbers).
BSN_BODIES = 10**8
BSN_STEP = 73_856_093  # coprime with 10**8, so the permutation visits every body once

# Pupil counts per jaargroep are uneven in October: four-year-olds keep arriving in
# groep 1 throughout the year, and groep 2 holds those who stayed a little longer.
YEAR_WEIGHTS = (0.8, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)

SCHOOL_PREFIXES = (
    "OBS",
    "CBS",
    "PCB",
    "RKBS",
    "IKC",
    "Daltonschool",
    "Jenaplanschool",
    "Montessorischool",
    "Basisschool",
)
SCHOOL_NAMES = (
    "de Flint",
    "de Zandloper",
    "het Klaverblad",
    "de Wegwijzer",
    "de Bongerd",
    "het Palet",
    "de Tweemaster",
    "de Sterrenwachter",
    "het Kompas",
    "de Kiezelsteen",
    "de Meidoorn",
    "'t Ruimteschip",
    "de Oostpolder",
    "de Zonnewijzer",
    "de Wadloper",
    "het Mozaïek",
    "de Duinroos",
    "de Regenboogbrug",
    "de Vuurtoren",
    "het Gouden Korenveld",
)
ANIMALS = (
    "Egels",
    "Vossen",
    "Uilen",
    "Dolfijnen",
    "Zwaluwen",
    "Bevers",
    "Otters",
    "Vlinders",
    "Kikkers",
    "Eekhoorns",
    "Reigers",
    "Dassen",
    "Pinguïns",
    "Giraffen",
    "Panters",
    "Herten",
    "Spechten",
    "Mussen",
    "Konijnen",
    "Zeehonden",
    "Ooievaars",
    "Kraanvogels",
    "Leeuwen",
    "Tijgers",
    "Olifanten",
    "Wolven",
    "Beren",
    "Lieveheersbeestjes",
    "Koala's",
    "Flamingo's",
    "Schildpadden",
    "Pauwen",
    "Zebra's",
    "Kangoeroes",
    "Valken",
    "Mieren",
)
BOYS = (
    "Daan",
    "Sem",
    "Lucas",
    "Milan",
    "Levi",
    "Noah",
    "Finn",
    "Daniël",
    "Jaïr",
    "Ümit",
    "Bram",
    "Thijs",
    "Luuk",
    "Mees",
    "Jesse",
    "Sven",
    "Mohammed",
    "Ayoub",
    "Yusuf",
    "Emir",
    "Joël",
    "Raphaël",
    "Gijs",
    "Ruben",
    "Teun",
    "Stijn",
    "Jan-Pieter",
    "Siem",
    "Olivier",
    "Mats",
    "Boaz",
    "Hüseyin",
    "Timo",
    "Wessel",
    "Kaj",
    "Rayan",
)
GIRLS = (
    "Emma",
    "Zoë",
    "Inès",
    "Çağla",
    "Noëlle",
    "Brontë",
    "Julia",
    "Tess",
    "Sophie",
    "Mila",
    "Saar",
    "Nina",
    "Lotte",
    "Fenna",
    "Sara",
    "Yara",
    "Liv",
    "Noor",
    "Anouk",
    "Maud",
    "Chloë",
    "Eliza",
    "Hiba",
    "Amira",
    "Ilse",
    "Fleur",
    "Anna-Sophie",
    "Lieke",
    "Elif",
    "Roos",
    "Jasmijn",
    "Ivy",
    "Maëlle",
    "Sanne",
    "Nour",
    "Esmée",
)
# Official first name behind a familiar roepnaam, as a parent would register it.
OFFICIAL = {
    "Daan": "Daniël",
    "Bram": "Abraham",
    "Thijs": "Matthijs",
    "Siem": "Simon",
    "Teun": "Anthonius",
    "Luuk": "Lucas",
    "Jan-Pieter": "Jan Pieter",
    "Saar": "Sara",
    "Lotte": "Charlotte",
    "Fenna": "Fenneke",
    "Roos": "Rosalie",
    "Anna-Sophie": "Anna Sophie",
}
MIDDLE_BOYS = ("Johannes", "Cornelis", "Hendrik", "Willem", "Theodorus", "Pieter", "Ali")
MIDDLE_GIRLS = ("Maria", "Elisabeth", "Anna", "Catharina", "Johanna", "Petronella", "Aylin")
SURNAMES: tuple[tuple[str | None, str], ...] = (
    (None, "Jansen"),
    ("de", "Vries"),
    ("van den", "Berg"),
    ("van", "Dijk"),
    (None, "Bakker"),
    (None, "Visser"),
    (None, "Smit"),
    (None, "Meijer"),
    ("de", "Boer"),
    (None, "Mulder"),
    ("de", "Groot"),
    (None, "Bos"),
    (None, "Vos"),
    (None, "Peters"),
    (None, "Hendriks"),
    ("van", "Leeuwen"),
    (None, "Dekker"),
    (None, "Brouwer"),
    ("de", "Wit"),
    (None, "Dijkstra"),
    ("de", "Graaf"),
    ("van der", "Meer"),
    ("van der", "Linden"),
    (None, "Kok"),
    ("de", "Haan"),
    (None, "Vermeulen"),
    ("van den", "Heuvel"),
    ("van der", "Veen"),
    ("van den", "Broek"),
    ("de", "Bruijn"),
    ("de", "Jong"),
    ("van 't", "Hof"),
    ("ter", "Horst"),
    ("den", "Hartog"),
    ("ter", "Veen"),
    ("den", "Boer"),
    ("van der", "Heijden"),
    ("van 't", "Zand"),
    (None, "Hoekstra"),
    (None, "Postma"),
    (None, "Yılmaz"),
    (None, "Öztürk"),
    (None, "Çelik"),
    (None, "Şahin"),
    ("El", "Amrani"),
    (None, "Bouzid"),
    (None, "Nguyen"),
    (None, "Kowalski"),
    (None, "Müller"),
    (None, "Kuipers"),
    (None, "Wolters"),
    ("van", "Wijk"),
)
ADULTS = (
    "Marieke",
    "Sanne",
    "Joost",
    "Ingrid",
    "Fatima",
    "Kees",
    "Annelies",
    "Bas",
    "Lieke",
    "Mehmet",
    "Eva",
    "Hanneke",
    "Mark",
    "Esther",
    "Rianne",
    "Wouter",
    "Nadia",
    "Petra",
    "Inge",
    "Ruud",
    "Gerda",
    "Youssef",
    "Mirjam",
    "Thomas",
)
# Free text a school types into ParnasSys; fictitious, but of the kind that must never
# leave the school (health, family situation), so the deny-list has something to stop.
REMARKS = (
    "Allergisch voor noten, heeft dyslexieverklaring",
    "Ouders gescheiden, post naar beide adressen sturen",
    "Gebruikt medicatie (ADHD), toediening door ouders thuis",
    "Logopedie op dinsdagmiddag, ophalen om 13.30 uur",
    "Diabetes type 1: sensor, mag in de klas iets eten",
    "Traject met schoolmaatschappelijk werk loopt",
    "Astma, puffer ligt in de la van de leerkracht",
    "Nieuwkomer, spreekt thuis Arabisch; extra taalondersteuning",
    "Hoogbegaafd (onderzoek 2025), zit in de plusgroep",
    "Mag niet met de auto van andere ouders mee",
)
FOREIGN_LANDS = ("MA", "TR", "SY", "PL", "UA", "ER", "DE", "BE", "SR", "AF", "IN", "GB")
POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
BAD_POSTCODE_PAIRS = frozenset({"SA", "SD", "SS"})
LEGACY_ECKID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
# Waarde spellings as parents' choices come out of Parro/Excel; most are clean.
ODD_SPELLINGS = {
    "ja": (" Ja", "JA", "Ja", "ja ", " ja"),
    "nee": ("NEE ", "Nee", "NEE", " nee", "nee "),
}
CONSENT_YES_RATE = {
    "beeldmateriaal_website": 0.75,
    "beeldmateriaal_nieuwsbrief": 0.85,
    "deelname_onderzoek": 0.55,
    "beeldmateriaal_parro": 0.7,
}
# The pupil whose parents allow photos on the website and nothing else: "nee" for the
# newsletter and research, no row for Parro. Consent per purpose shows on this child.
WEBSITE_ONLY = {
    "beeldmateriaal_website": "ja",
    "beeldmateriaal_nieuwsbrief": "nee",
    "deelname_onderzoek": "nee",
}

# The three deliberate business-rule problems, all still XSD-valid.
PROBLEM_BLANK_SURNAME = "voorvoegsel_zonder_achternaam"
PROBLEM_NO_JAARGROEP = "combinatiegroep_zonder_jaargroep"
_PROBLEM_FUTURE_BIRTH = "geboortedatum_na_peildatum"
PROBLEMS = (PROBLEM_BLANK_SURNAME, PROBLEM_NO_JAARGROEP, _PROBLEM_FUTURE_BIRTH)
