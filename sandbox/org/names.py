"""Word lists for people, accounts, deals and activity subjects.

Invented and generic on purpose: no real companies or customers, so sandbox data can be shown
in demos and screenshots without implying anything about anyone.
"""

from __future__ import annotations

EMAIL_DOMAIN = "sandbox-sales.example"

FIRST_NAMES: tuple[str, ...] = (
    "Avery", "Blake", "Camila", "Dmitri", "Elena", "Farah", "Gabriel", "Hana", "Isaac",
    "Jada", "Kenji", "Lena", "Marcus", "Nadia", "Oscar", "Priya", "Quinn", "Rafael", "Sofia",
    "Tariq", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Chloe",
    "Diego", "Esther", "Felix", "Greta", "Hugo", "Ines", "Jonah", "Kira", "Luca", "Maya",
    "Nico", "Olivia", "Pavel", "Rosa", "Samir", "Tessa", "Ulrich", "Vera", "Wade", "Yara",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Abbott", "Becker", "Castillo", "Dalton", "Eriksen", "Fontaine", "Garcia", "Hughes",
    "Ibarra", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
    "Quintero", "Reyes", "Schneider", "Tanaka", "Umar", "Vasquez", "Whitaker", "Xu", "Young",
    "Zielinski", "Alvarez", "Brennan", "Choi", "Dubois", "Engel", "Fischer", "Gallagher",
    "Haddad", "Ivanova", "Jovanovic", "Keller", "Larsen", "Mendes", "Novak", "Osei", "Patel",
    "Rossi", "Sato", "Thornton", "Varga", "Weber", "Yilmaz", "Zhou",
)  # fmt: skip

#: Sales regions and the IANA zone their team works in; cycled when there are more teams.
TEAM_REGIONS: tuple[tuple[str, str], ...] = (
    ("East", "America/New_York"),
    ("West", "America/Los_Angeles"),
    ("Central", "America/Chicago"),
    ("EMEA", "Europe/London"),
    ("DACH", "Europe/Berlin"),
    ("Mountain", "America/Denver"),
    ("Nordics", "Europe/Stockholm"),
    ("ANZ", "Australia/Sydney"),
)

ACCOUNT_PREFIXES: tuple[str, ...] = (
    "Amber", "Apex", "Birch", "Blue Ridge", "Cedar", "Cobalt", "Copper", "Crescent", "Delta",
    "Ember", "Evergreen", "Falcon", "Granite", "Harbor", "Helix", "Iron Gate", "Juniper",
    "Keystone", "Lakeside", "Lumen", "Maple", "Meridian", "Northwind", "Oakline", "Onyx",
    "Pinnacle", "Quarry", "Redwood", "Riverbend", "Sable", "Silverline", "Summit", "Tidewater",
    "Vantage", "Willow", "Zenith",
)  # fmt: skip

ACCOUNT_INDUSTRIES: tuple[str, ...] = (
    "Analytics", "Biotech", "Logistics", "Foods", "Health", "Energy", "Robotics", "Retail",
    "Software", "Insurance", "Manufacturing", "Media", "Freight", "Dental", "Labs", "Capital",
)  # fmt: skip

ACCOUNT_SUFFIXES: tuple[str, ...] = ("Inc", "LLC", "Group", "Ltd", "Co", "Partners", "GmbH")

PRODUCTS: tuple[str, ...] = (
    "Platform licence", "Analytics add-on", "Team expansion", "Pilot", "Enterprise plan",
    "Professional services", "Multi-year renewal", "Integration package",
)  # fmt: skip

PAINS: tuple[str, ...] = (
    "Manual reporting eats a day a week",
    "No visibility into regional pipeline",
    "Legacy tool reaches end of life next year",
    "Onboarding new staff takes too long",
    "Data spread across spreadsheets",
    "Compliance audit findings",
    "Churn rising in the mid-market segment",
)

DECISION_MAKER_TITLES: tuple[str, ...] = ("CFO", "CIO", "COO", "VP Operations", "Head of IT")

NEXT_STEPS: dict[str, tuple[str, ...]] = {
    "qualify": ("Book discovery call", "Confirm champion", "Send intro deck"),
    "discover": ("Map stakeholders", "Schedule demo", "Collect requirements"),
    "solution": ("Run technical demo", "Share solution design", "Start security review"),
    "proposal": ("Send proposal", "Review pricing with champion", "Walk through proposal"),
    "negotiate": ("Redline contract", "Get signature from CFO", "Agree final discount"),
}

CALL_SUBJECTS: tuple[str, ...] = ("Prospecting call", "Cold call", "Intro call", "Referral call")
EMAIL_SUBJECTS: tuple[str, ...] = ("Intro", "Quick question", "Following up", "Case study")
MEETING_SUBJECTS: tuple[str, ...] = ("Prospect intro", "Partner sync", "Territory planning")
TASK_SUBJECTS: tuple[str, ...] = ("Update CRM", "Research account", "Prepare call list")
NOTE_SUBJECTS: tuple[str, ...] = ("Market note", "Territory note", "Competitor sighting")
