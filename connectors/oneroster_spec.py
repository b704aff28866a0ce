"""The OneRoster CSV binding (1.1 and 1.2): file headers and manifest keys, declared once.

Spec order and case, as the validator in PEERS.md [O1] and the Moodle plugin [O2] have
them; the reader (connectors/sources/oneroster.py) checks packages against these and the
writer (connectors/formats/oneroster.py) writes them.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE",
    "CLASSES",
    "COMMON",
    "COURSES",
    "DEMOGRAPHICS",
    "ENROLLMENTS",
    "FILES_11",
    "FILES_12",
    "MANIFEST_FILES",
    "ORGS",
    "ROLES",
    "SESSIONS",
    "TO_BE_DELETED",
    "USERS_11",
    "USERS_12",
]

# The two values of a delta row's status column.
ACTIVE = "active"
TO_BE_DELETED = "tobedeleted"

COMMON = ("sourcedId", "status", "dateLastModified")
ORGS = (*COMMON, "name", "type", "identifier", "parentSourcedId")
SESSIONS = (
    *COMMON,
    "title",
    "type",
    "startDate",
    "endDate",
    "parentSourcedId",
    "schoolYear",
)
CLASSES = (
    *COMMON,
    "title",
    "grades",
    "courseSourcedId",
    "classCode",
    "classType",
    "location",
    "schoolSourcedId",
    "termSourcedIds",
    "subjects",
    "subjectCodes",
    "periods",
)
# users.csv columns from username to password, the same and in the same order in 1.1 and 1.2.
_USER_DETAILS = (
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
)
USERS_11 = (*COMMON, "enabledUser", "orgSourcedIds", "role", *_USER_DETAILS)
USERS_12 = (
    *COMMON,
    "enabledUser",
    *_USER_DETAILS,
    "userMasterIdentifier",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "primaryOrgSourcedId",
    "pronouns",
)
ROLES = (
    *COMMON,
    "userSourcedId",
    "roleType",
    "role",
    "beginDate",
    "endDate",
    "orgSourcedId",
    "userProfileSourcedId",
)
ENROLLMENTS = (
    *COMMON,
    "classSourcedId",
    "schoolSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
)
DEMOGRAPHICS = (
    *COMMON,
    "birthDate",
    "sex",
    "americanIndianOrAlaskaNative",
    "asian",
    "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander",
    "white",
    "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity",
    "countryOfBirthCode",
    "stateOfBirthAbbreviation",
    "cityOfBirth",
    "publicSchoolResidenceStatus",
)
COURSES = (
    *COMMON,
    "schoolYearSourcedId",
    "title",
    "courseCode",
    "grades",
    "orgSourcedId",
    "subjects",
    "subjectCodes",
)

# The data files each version's manifest may list (file.<name>), in the spec's order.
FILES_11 = (
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItems",
    "orgs",
    "resources",
    "results",
    "users",
)
FILES_12 = (
    *FILES_11,
    "roles",
    "userProfiles",
    "userResources",
    "scoreScales",
    "lineItemScoreScales",
    "resultScoreScales",
    "lineItemLearningObjectiveIds",
    "resultLearningObjectiveIds",
)
MANIFEST_FILES = {"1.1": FILES_11, "1.2": FILES_12}
