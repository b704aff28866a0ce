"""What each validation rule means, and where to fix it in the administration, in plain Dutch."""

from __future__ import annotations

from connectors.i18n import N_, _

__all__ = ["CONSENT_RULE_HINTS", "CONSENT_SUBJECT", "FORMAT_NEED_HINT", "RULE_HINTS", "hint_for"]

# Keyed by the rule ids contracts/validation.py reports. Hints name the screen to use, never
# a value: the report is read by people who may not see the pupil's record.
RULE_HINTS: dict[str, str] = {
    "leerlingkey_required": N_(
        "Leerling zonder leerlingnummer: vul het leerlingnummer in "
        "de leerlingadministratie in en maak de export opnieuw."
    ),
    "leerlingkey_unique": N_(
        "Hetzelfde leerlingnummer staat bij meer dan één leerling: "
        "geef elke leerling een eigen nummer."
    ),
    "eckid_unique": N_(
        "Hetzelfde ECK iD staat bij meer dan één leerling: vraag het ECK iD "
        "opnieuw op via de Nummervoorziening."
    ),
    "eckid_format": N_(
        "Het ECK iD heeft niet de vorm https://ketenid.nl/...: vraag het ECK iD "
        "opnieuw op via de Nummervoorziening."
    ),
    "eckid_legacy": N_(
        "Het ECK iD heeft een oude vorm (geen https://ketenid.nl/.../128 tekens): "
        "controleer het bij de Nummervoorziening. De leerling wordt wel geleverd."
    ),
    "name_rule": N_(
        "Naam onvolledig: vul de achternaam in, of alleen de roepnaam (zonder "
        "tussenvoegsel, voornamen of voorletters)."
    ),
    "achternaam_length": N_("Achternaam is langer dan 200 tekens: controleer de naam."),
    "voorvoegsel_length": N_(
        "Tussenvoegsel is langer dan 10 tekens: zet alleen het tussenvoegsel in dit veld."
    ),
    "roepnaam_length": N_("Roepnaam is langer dan 64 tekens: controleer de roepnaam."),
    "geboortedatum_format": N_(
        "Geboortedatum is geen datum: vul de geboortedatum in als dag, maand en jaar."
    ),
    "date_valid": N_("Deze datum bestaat niet (bijvoorbeeld 30 februari): corrigeer de datum."),
    "not_in_future": N_("Geboortedatum ligt in de toekomst: corrigeer de geboortedatum."),
    "plausible_age": N_(
        "Geboortedatum past niet bij een leerling van de basisschool (jonger dan "
        "2 of ouder dan 14 op de peildatum): controleer het geboortejaar."
    ),
    "geslacht_code": N_(
        "Geslacht heeft een onbekende code: kies jongen, meisje, onbekend of niet gespecificeerd."
    ),
    "jaargroep_required": N_(
        "Geen jaargroep: de leerling zit in een combinatiegroep (of in geen "
        "groep). Vul de jaargroep per leerling in."
    ),
    "jaargroep_code": N_(
        "Jaargroep heeft een onbekende code: kies 1 tot en met 8 (of een andere EDEXML-jaargroep)."
    ),
    "jaargroep_per_pupil": N_(
        "Jaargroep van de leerling is 'combinatiegroep': vul de eigen jaargroep van de leerling in."
    ),
    "group_reference": N_(
        "De leerling verwijst naar een groep die niet in de export staat: "
        "controleer de groepsindeling van dit schooljaar."
    ),
    "teacher_group_reference": N_(
        "Een leerkracht is gekoppeld aan een groep die niet in de "
        "export staat: controleer de groepen van de leerkracht (leerkrachten worden niet "
        "geleverd; dit is een waarschuwing)."
    ),
    "vestiging_reference": N_(
        "De leerling verwijst naar een vestiging die niet in de export "
        "staat: controleer de vestiging van de leerling."
    ),
    "composite_group_reference": N_(
        "De leerling verwijst naar een samengestelde groep die niet "
        "in de export staat: controleer de groepsindeling."
    ),
    "start_ondw_jgr3_format": N_("Startdatum groep 3 is geen datum: corrigeer de datum."),
    "instroomdatum_format": N_("Instroomdatum is geen datum: corrigeer de datum."),
    "uitstroomdatum_format": N_("Uitstroomdatum is geen datum: corrigeer de datum."),
    "groepskey_unique": N_(
        "Dezelfde groepscode staat bij meer dan één groep: geef elke groep een eigen code."
    ),
    "groepskey_required": N_("Groep zonder groepscode: vul de code van de groep in."),
    "groepsnaam_required": N_("Groep zonder naam: vul de naam van de groep in."),
    "soort_required": N_(
        "Groep zonder soort: geef in de leerlingadministratie aan of het een "
        "stamgroep of een samengestelde groep is."
    ),
    "soort_code": N_("De soort van de groep is onbekend: kies stamgroep of samengestelde groep."),
    "stamgroep_jaargroep": N_(
        "Stamgroep zonder jaargroep: vul de jaargroep van de groep in (C voor een combinatiegroep)."
    ),
    "leerlingkey_control": N_(
        "Het leerlingnummer bevat een onzichtbaar teken of stuurteken "
        "(bijvoorbeeld na kopiëren en plakken): typ het leerlingnummer opnieuw in."
    ),
    "leerlingkey_bsn": N_(
        "Het leerlingnummer heeft de vorm van een BSN (het voldoet aan de "
        "elfproef): geef de leerling een leerlingnummer dat geen BSN is. Tot dan krijgt geen "
        "leverancier die het leerlingnummer ontvangt deze leerling (wel een leverancier met een "
        "wettelijke plicht)."
    ),
    "gebruikersnaam_bsn": N_(
        "De gebruikersnaam heeft de vorm van een BSN (hij voldoet aan de "
        "elfproef): geef de leerling een gebruikersnaam die geen BSN is. Tot dan krijgt geen "
        "leverancier die de gebruikersnaam ontvangt deze leerling (wel een leverancier met een "
        "wettelijke plicht)."
    ),
    "incomplete_for_format": N_(
        "Het bestandsformaat van een leverancier vraagt een gegeven dat "
        "bij deze leerling ontbreekt (OneRoster bijvoorbeeld een achternaam). Die leverancier "
        "krijgt de leerling pas als het in de leerlingadministratie is ingevuld; de andere "
        "leveranciers krijgen de leerling wel."
    ),
    # Consent rows: what cannot be read withdraws consent until it is corrected.
    "schooljaar_format": N_(
        "Het schooljaar is niet te lezen (schrijf het als 2026-2027): corrigeer deze regel in de "
        "privacyvoorkeuren en maak de export opnieuw. Tot dan telt de regel als 'nee' voor de "
        "categorie die hij noemt, in elk schooljaar."
    ),
    "categorie_format": N_(
        "De categorie is niet te lezen (gebruik letters, cijfers, spaties of _, bijvoorbeeld "
        "beeldmateriaal website): corrigeer deze regel in de privacyvoorkeuren en maak de export "
        "opnieuw. Tot dan telt de regel als 'nee' voor elke categorie van deze leerling."
    ),
    "waarde_code": N_(
        "De keuze is niet ja of nee (ook goed: j, yes, 1, n, neen, no, 0): corrigeer deze regel in"
        " de privacyvoorkeuren en maak de export opnieuw. Tot dan telt de regel als 'nee' voor de "
        "categorie die hij noemt."
    ),
    "datetime_format": N_(
        "De datum van de keuze is niet te lezen (schrijf jjjj-mm-dd of dd-mm-jjjj, eventueel met "
        "de tijd): corrigeer deze regel in de privacyvoorkeuren en maak de export opnieuw. Tot dan"
        " telt de regel als 'nee' voor de categorie die hij noemt."
    ),
}

# The same rule id on a consent row: the fix is in the privacy-voorkeuren, and the row
# counts against consent until then.
CONSENT_RULE_HINTS: dict[str, str] = {
    "leerlingkey_required": N_(
        "Toestemmingsregel zonder leerlingnummer: vul het leerlingnummer "
        "in de privacyvoorkeuren in en maak de export opnieuw. Tot dan telt de regel, tenzij het "
        "een leesbare 'ja' is, als 'nee' voor elke leerling in de categorie die hij noemt."
    ),
    "leerlingkey_control": N_(
        "Het leerlingnummer in deze toestemmingsregel bevat een onzichtbaar "
        "teken of stuurteken: typ het opnieuw in en maak de export opnieuw. Tot dan telt de "
        "regel, tenzij het een leesbare 'ja' is, als 'nee' voor de leerling met dit nummer "
        "zonder die tekens."
    ),
    "schooljaar_required": N_(
        "Het schooljaar ontbreekt: corrigeer deze regel in de privacyvoorkeuren en maak de export "
        "opnieuw. Tot dan telt de regel als 'nee' voor de categorie die hij noemt, in elk "
        "schooljaar."
    ),
    "categorie_required": N_(
        "De categorie ontbreekt: corrigeer deze regel in de privacyvoorkeuren en maak de export "
        "opnieuw. Tot dan telt de regel als 'nee' voor elke categorie van deze leerling."
    ),
    "waarde_required": N_(
        "De keuze (ja of nee) ontbreekt: corrigeer deze regel in de privacyvoorkeuren en maak de "
        "export opnieuw. Tot dan telt de regel als 'nee' voor de categorie die hij noemt."
    ),
    "gewijzigd_op_required": N_(
        "De datum van de keuze ontbreekt: corrigeer deze regel in de privacyvoorkeuren en maak de "
        "export opnieuw. Tot dan telt de regel als 'nee' voor de categorie die hij noemt."
    ),
}
CONSENT_SUBJECT = "toestemming"

# One report row per pupil, supplier and missing field (policy.format_needs): {veld} is
# the field in plain Dutch, {leverancier} the supplier id, {formaat} its format.
FORMAT_NEED_HINT = N_(
    "Bij deze leerling is het veld {veld} niet ingevuld. Leverancier {leverancier} krijgt "
    "de leerling daarom niet, want het formaat {formaat} vraagt dit gegeven. Vul het veld "
    "{veld} in de leerlingadministratie in."
)

_GENERIC = N_("Controleer dit veld in de leerlingadministratie en maak de export opnieuw.")


def hint_for(rule: str, subject: str | None = None) -> str:
    """Return the Dutch fix hint for a rule id, or a generic one for an unlisted rule.

    Args:
        rule: the rule id.
        subject: what the row is (leerling, groep, toestemming); a consent row has hints
            of its own for the rule ids it shares with pupils.
    """
    if subject == CONSENT_SUBJECT and rule in CONSENT_RULE_HINTS:
        return _(CONSENT_RULE_HINTS[rule])
    if rule in RULE_HINTS:
        return _(RULE_HINTS[rule])
    if rule.endswith("_required"):
        return _("Verplicht veld ontbreekt: vul het in de leerlingadministratie in.")
    if rule.endswith("_code") or rule.endswith("_format"):
        return _("Onbekende waarde of vorm: corrigeer het veld in de leerlingadministratie.")
    return _(_GENERIC)
