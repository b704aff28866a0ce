"""The pupils, teachers and groups of a OneRoster package, with what was left out."""

from __future__ import annotations

import pandas as pd

from connectors.i18n import _
from connectors.oneroster_spec import (
    TO_BE_DELETED,
)
from connectors.sources.base import (
    GROUP_COLUMNS,
    PUPIL_COLUMNS,
    TEACHER_COLUMNS,
)
from connectors.sources.oneroster_csv import Table
from connectors.sources.oneroster_rules import (
    COMBINATION,
    HOMEROOM,
    LINE,
    SCHEDULED,
    STUDENT,
    TEACHER,
)
from connectors.sources.oneroster_values import (
    blank_to_na,
    eckids,
    first_given,
    isin,
    jaargroepen,
    joined_by_key,
    raw_frame,
    sex_codes,
)


class People:
    """The pupils, teachers and groups of one package, from its parsed tables."""

    def __init__(self, source_file: str, notes: list[str]) -> None:
        self.source_file = source_file
        self.notes = notes  # the reader's notes, added to

    def read(
        self, tables: dict[str, Table], version: str
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Return the pupils, teachers and groups frames; what is left out goes in the notes."""
        users = tables["users"]
        source_file = self.source_file
        active = users.active()
        student_ids, teacher_ids, role_dates = self._roles(tables, version, users)

        students = active.loc[isin(active["sourcedId"], student_ids)]
        teachers = active.loc[isin(active["sourcedId"], teacher_ids)]
        gone = isin(users.deleted()["sourcedId"], student_ids)
        if gone.any():
            self.notes.append(
                _("users.csv: {value} leerlingen met tobedeleted zijn weggelaten").format(
                    value=int(gone.sum()),
                )
            )
        missing = ~isin(student_ids, users.frame["sourcedId"])
        if missing.any():
            self.notes.append(
                _(
                    "roles.csv: {value} leerlingrollen noemen een gebruiker die niet "
                    "in users.csv staat; die leerlingen worden niet gelezen"
                ).format(
                    value=int(missing.sum()),
                )
            )

        groups, kinds = self._groups(tables, source_file)
        enrolled = self._enrollments(tables, kinds)

        pupils = self._pupils(students, tables, role_dates, enrolled, version)
        teacher_frame = self._teachers(teachers, enrolled, version)
        return (
            raw_frame(pupils, PUPIL_COLUMNS, source_file, students[LINE]),
            raw_frame(teacher_frame, TEACHER_COLUMNS, source_file, teachers[LINE]),
            groups,
        )

    def _roles(
        self, tables: dict[str, Table], version: str, users: Table
    ) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
        """Who is a student, who a teacher; in 1.2 also the student role's dates."""
        if version == "1.1":
            role = users.frame["role"].str.strip().str.lower()
            ids = users.frame["sourcedId"]
            empty = pd.DataFrame({"sourcedId": [], "beginDate": [], "endDate": []}, dtype="str")
            return ids.loc[role == STUDENT], ids.loc[role == TEACHER], empty
        roles = tables["roles"]
        role = roles.frame["role"].str.strip().str.lower()
        gone = roles.deleted()
        gone_students = int((gone["role"].str.strip().str.lower() == STUDENT).sum())
        if gone_students:
            self.notes.append(
                _(
                    "roles.csv: {gone_students} leerlingrollen met tobedeleted zijn weggelaten"
                ).format(
                    gone_students=gone_students,
                )
            )
        active = roles.frame.loc[roles.frame["status"] != TO_BE_DELETED]
        active_role = role.loc[active.index]
        student_rows = active.loc[active_role == STUDENT]
        teacher_rows = active.loc[active_role == TEACHER]
        # The primary role first, then file order: one row (and one pair of dates) per pupil.
        ordered = student_rows.assign(
            _secondary=student_rows["roleType"].str.strip().str.lower() != "primary"
        ).sort_values(["_secondary", LINE], kind="stable")
        dates = ordered.drop_duplicates("userSourcedId")[["userSourcedId", "beginDate", "endDate"]]
        dates = dates.rename(columns={"userSourcedId": "sourcedId"})
        return (
            student_rows["userSourcedId"].drop_duplicates(),
            teacher_rows["userSourcedId"].drop_duplicates(),
            dates,
        )

    def _groups(self, tables: dict[str, Table], source_file: str) -> tuple[pd.DataFrame, pd.Series]:
        """Groups from classes.csv, and each active class's kind (homeroom/scheduled)."""
        if "classes" not in tables:
            empty = pd.DataFrame({name: pd.Series([], dtype="str") for name in GROUP_COLUMNS})
            return (
                raw_frame(empty, GROUP_COLUMNS, source_file, pd.Series([], dtype="int64")),
                pd.Series([], dtype="str"),
            )
        classes = tables["classes"]
        gone = len(classes.deleted())
        if gone:
            self.notes.append(
                _("classes.csv: {gone} klassen met tobedeleted zijn weggelaten").format(
                    gone=gone,
                )
            )
        active = classes.active().reset_index(drop=True)
        kind = active["classType"].str.strip().str.lower()
        homeroom = kind == HOMEROOM
        jaargroep, count = jaargroepen(active["grades"])
        jaargroep = jaargroep.mask(count > 1, COMBINATION).where(homeroom)
        frame = pd.DataFrame(
            {
                "groepskey": active["sourcedId"],
                "groepsnaam": active["title"],
                "jaargroep": jaargroep,
                "soort": homeroom.map({True: "groep", False: "samengestelde_groep"}),
                "omschrijving": None,
            }
        )
        kinds = pd.Series(kind.to_numpy(), index=active["sourcedId"].to_numpy(), dtype="str")
        return raw_frame(frame, GROUP_COLUMNS, source_file, active[LINE]), kinds

    def _enrollments(self, tables: dict[str, Table], kinds: pd.Series) -> pd.DataFrame:
        """Active student and teacher enrollments in classes the package holds."""
        columns = ["userSourcedId", "classSourcedId", "role", "kind", "primary"]
        if "enrollments" not in tables:
            # The dtypes of the frame built below: `primary` is a flag, and "str" | bool
            # raises where the pupils' homerooms are picked.
            return pd.DataFrame(
                {
                    name: pd.Series([], dtype="bool" if name == "primary" else "str")
                    for name in columns
                }
            )
        enrollments = tables["enrollments"]
        gone = len(enrollments.deleted())
        if gone:
            self.notes.append(
                _("enrollments.csv: {gone} inschrijvingen met tobedeleted zijn weggelaten").format(
                    gone=gone,
                )
            )
        active = enrollments.active()
        role = active["role"].str.strip().str.lower()
        active = active.loc[role.isin([STUDENT, TEACHER])].assign(role=role)
        known = isin(active["classSourcedId"], kinds.index)
        if (~known).any():
            self.notes.append(
                _(
                    "enrollments.csv: {value} inschrijvingen noemen een klas die niet "
                    "in classes.csv staat; ze worden niet gelezen"
                ).format(
                    value=int((~known).sum()),
                )
            )
        active = active.loc[known]
        active = active.assign(
            kind=active["classSourcedId"].map(kinds),
            primary=active["primary"].str.strip().str.lower() == "true",
        )
        return active[columns]

    def _pupils(
        self,
        students: pd.DataFrame,
        tables: dict[str, Table],
        role_dates: pd.DataFrame,
        enrolled: pd.DataFrame,
        version: str,
    ) -> pd.DataFrame:
        # Positional from here on: every column below is built from this order.
        students = students.reset_index(drop=True)
        ids = students["sourcedId"]
        own = enrolled.loc[(enrolled["role"] == STUDENT) & isin(enrolled["userSourcedId"], ids)]
        homeroom = own.loc[own["kind"] == HOMEROOM]
        # Several homerooms: the ones marked primary, if any are.
        has_primary = homeroom.groupby("userSourcedId")["primary"].transform("any")
        homeroom = homeroom.loc[homeroom["primary"] | ~has_primary.astype(bool)]
        groepskey, count = joined_by_key(homeroom, "userSourcedId", "classSourcedId")
        several = int((count > 1).sum())
        if several:
            self.notes.append(
                _(
                    "enrollments.csv: {several} leerlingen zitten in meer dan één "
                    "stamgroep; hun groepskey noemt ze allemaal, dus het contract "
                    "houdt ze tegen"
                ).format(
                    several=several,
                )
            )
        scheduled, _rest = joined_by_key(
            own.loc[own["kind"] == SCHEDULED], "userSourcedId", "classSourcedId"
        )

        key = blank_to_na(students["identifier"])
        by_sourced_id = int(key.isna().sum())
        if by_sourced_id:
            self.notes.append(
                _(
                    "users.csv: {by_sourced_id} leerlingen hebben geen identifier; hun "
                    "sourcedId is hun leerlingkey"
                ).format(
                    by_sourced_id=by_sourced_id,
                )
            )
        middle = int((students["middleName"].str.strip() != "").sum())
        if middle:
            self.notes.append(
                _(
                    "users.csv: middleName van {middle} leerlingen wordt niet gelezen "
                    "(een tussenvoegsel of tweede voornaam is er niet uit op te maken)"
                ).format(
                    middle=middle,
                )
            )
        eckid, others = eckids(students["userMasterIdentifier"])
        if others:
            self.notes.append(
                _(
                    "users.csv: userMasterIdentifier van {others} leerlingen is geen "
                    "ECK iD en wordt niet gelezen"
                ).format(
                    others=others,
                )
            )

        demographics = (
            tables["demographics"].active()[["sourcedId", "birthDate", "sex"]]
            if "demographics" in tables
            else pd.DataFrame({"sourcedId": [], "birthDate": [], "sex": []}, dtype="str")
        )
        joined = pd.DataFrame({"sourcedId": ids.to_numpy()}).merge(
            demographics, on="sourcedId", how="left", validate="one_to_one"
        )
        joined = joined.merge(role_dates, on="sourcedId", how="left", validate="one_to_one")
        jaargroep, grades = jaargroepen(students["grades"])
        # Every column has the students' RangeIndex, so they line up by position.
        return pd.DataFrame(
            {
                "leerlingkey": key.fillna(ids),
                "eckid": eckid,
                "achternaam": students["familyName"],
                "roepnaam": first_given(students, version),
                "gebruikersnaam": students["username"],
                "emailadres": students["email"],
                "geboortedatum": joined["birthDate"],
                "geslacht": sex_codes(joined["sex"]),
                # Several grades stay as written: a pupil has one jaargroep.
                "jaargroep": jaargroep.mask(grades > 1, students["grades"]),
                "groepskey": ids.map(groepskey),
                "samengestelde_groepen": ids.map(scheduled),
                "instroomdatum": joined["beginDate"],
                "uitstroomdatum": joined["endDate"],
                "mutatiedatum": students["dateLastModified"],
            }
        )

    def _teachers(
        self, teachers: pd.DataFrame, enrolled: pd.DataFrame, version: str
    ) -> pd.DataFrame:
        teachers = teachers.reset_index(drop=True)
        ids = teachers["sourcedId"]
        own = enrolled.loc[(enrolled["role"] == TEACHER) & isin(enrolled["userSourcedId"], ids)]
        groepen, _ = joined_by_key(own, "userSourcedId", "classSourcedId")
        eckid, _ = eckids(teachers["userMasterIdentifier"])
        return pd.DataFrame(
            {
                "leerkrachtkey": blank_to_na(teachers["identifier"]).fillna(ids),
                "eckid": eckid,
                "achternaam": teachers["familyName"],
                "roepnaam": first_given(teachers, version),
                "emailadres": teachers["email"],
                "groepen": ids.map(groepen),
            }
        )
