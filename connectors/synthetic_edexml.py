"""Synthetic exports: a school written as EDEXML 2.1, pupils in LeerlingType order, teachers."""

from __future__ import annotations

from lxml import etree

from connectors.synthetic_names import ADULTS, SURNAMES, XSI, XSI_TYPE
from connectors.synthetic_pupils import PupilPlan, SchoolPupils, ascii


class EdexmlWriting(SchoolPupils):
    """A school that writes its ``EDEX.XML``, teachers drawn as it goes."""

    # ------------------------------------------------------------------ EDEXML

    def edexml(self) -> bytes:
        """The school's ``EDEX.XML`` as bytes."""
        root = etree.Element("EDEX", nsmap={"xsi": XSI})
        root.set(f"{{{XSI}}}noNamespaceSchemaLocation", "EDEXML.structuur.xsd")
        school = etree.SubElement(root, "school")
        _text(school, "schooljaar", self.schooljaar)
        _text(school, "peildatum", self.peil.isoformat())
        _text(school, "brincode", self.brin)
        _text(school, "dependancecode", "00")
        _text(school, "aanmaakdatum", self.aanmaak.isoformat())
        _text(school, "auteur", "Sluis sample-generator")
        _text(school, "xsdversie", "2.1")
        _text(school, "commentaar", f"Synthetische export van {self.name}; geen echte leerlingen")

        groepen = etree.SubElement(root, "groepen")
        for group in self.groups:
            element = etree.SubElement(groepen, "groep", key=group.key)
            _text(element, "naam", group.naam)
            _text(element, "jaargroep", group.jaargroep)
            if len(group.years) > 1:
                label = ", ".join(str(year) for year in group.years[:-1])
                _text(element, "omschrijving", f"Combinatiegroep {label} en {group.years[-1]}")
        for key, naam, omschrijving in (
            ("SG-PLUS", "Plusgroep rekenen", "Verrijking rekenen voor groep 5 tot en met 8"),
            ("SG-TAAL", "Taalklas", "Extra ondersteuning Nederlands als tweede taal"),
        ):
            element = etree.SubElement(groepen, "samengestelde_groep", key=key)
            _text(element, "naam", naam)
            _text(element, "omschrijving", omschrijving)

        leerlingen = etree.SubElement(root, "leerlingen")
        for pupil in self.pupils:
            _write_pupil(leerlingen, pupil)
        self._write_teachers(root)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _write_teachers(self, root: etree._Element) -> None:
        rng = self.rng
        leerkrachten = etree.SubElement(root, "leerkrachten")
        number = 0
        logins: set[str] = set()

        def teacher(rol: str) -> etree._Element:
            nonlocal number
            number += 1
            roepnaam = rng.choice(ADULTS)
            voorvoegsel, achternaam = rng.choice(SURNAMES)
            element = etree.SubElement(leerkrachten, "leerkracht", key=f"LK{number:03d}")
            _text(element, "achternaam", achternaam)
            if voorvoegsel:
                _text(element, "voorvoegsel", voorvoegsel)
            _text(element, "voorletters-1", roepnaam[0])
            _text(element, "roepnaam", roepnaam)
            login = ascii(f"{roepnaam[0]}{voorvoegsel or ''}{achternaam}")
            if login in logins:
                login = f"{login}{number}"
            logins.add(login)
            _text(element, "gebruikersnaam", login)
            _text(element, "emailadres", f"{login}@{self.mail_domain}")
            _text(element, "rol", rol)
            return element

        for group in self.groups:
            # Two teachers share each stamgroep (a duo), as is usual with part-time work.
            for _i in range(2):
                links = etree.SubElement(teacher("LRK"), "groepen")
                etree.SubElement(links, "groep", key=group.key)
        links = etree.SubElement(teacher("IB"), "groepen")
        for key in ("SG-PLUS", "SG-TAAL"):
            link = etree.SubElement(links, "samengestelde_groep", key=key)
            _text(link, "rolomschrijving", "Begeleider")


def _text(parent: etree._Element, tag: str, value: str) -> None:
    etree.SubElement(parent, tag).text = value


def _write_pupil(parent: etree._Element, pupil: PupilPlan) -> None:
    """Append one ``leerling`` in the exact LeerlingType element order."""
    element = etree.SubElement(parent, "leerling", key=pupil.key)
    if pupil.eckid:
        element.set("eckid", pupil.eckid)
    if pupil.achternaam is not None:
        _text(element, "achternaam", pupil.achternaam)
        if pupil.voorvoegsel:
            _text(element, "voorvoegsel", pupil.voorvoegsel)
        if pupil.voornamen:
            _text(element, "voornamen", pupil.voornamen)
        if pupil.voorletters:
            _text(element, "voorletters-1", pupil.voorletters)
    _text(element, "roepnaam", pupil.roepnaam)
    _text(element, "geboortedatum", pupil.geboortedatum.isoformat())
    _text(element, "geslacht", pupil.geslacht)
    if pupil.start_jgr3:
        _text(element, "start_ondw_jgr3", pupil.start_jgr3.isoformat())
    if pupil.write_jaargroep:
        _text(element, "jaargroep", str(pupil.year))
    etree.SubElement(element, "groep", key=pupil.group.key)
    if pupil.samengestelde:
        refs = etree.SubElement(element, "samengestelde_groepen")
        for key in pupil.samengestelde:
            etree.SubElement(refs, "samengestelde_groep", key=key)
    if pupil.etniciteit:
        _text(element, "etniciteit", pupil.etniciteit)
    if pupil.land:
        _text(element, "land", pupil.land)
    if pupil.land_ouders:
        _text(element, "land_vader", pupil.land_ouders[0])
        _text(element, "land_moeder", pupil.land_ouders[1])
    if pupil.bsn:
        _text(element, "bsn", pupil.bsn)
    if pupil.gewicht_nieuw:
        _text(element, "gewicht_nieuw", pupil.gewicht_nieuw)
    if pupil.postcode:
        _text(element, "postcodenl", pupil.postcode)
    _text(element, "instroomdatum", pupil.instroom.isoformat())
    if pupil.uitstroom:
        _text(element, "uitstroomdatum", pupil.uitstroom.isoformat())
    if pupil.opmerking:
        blok = etree.SubElement(etree.SubElement(element, "toevoegingen"), "blok")
        blok.set(XSI_TYPE, "OpmerkingGegevensType")
        _text(blok, "code", "Opmerking")
        _text(blok, "opmerking", pupil.opmerking)
    if pupil.mutatie:
        _text(element, "mutatiedatum", pupil.mutatie.isoformat())
