"""The SQL domain's databases: five SQLite schemas with realistic data, built deterministically from seeds.

``bookstore``, ``company`` and ``school`` are the in-domain schemas (train, test_id); ``hospital`` and
``airline`` are seen only in test_ood. Each template database is built once per process in memory
and every episode gets its own copy (``fresh_copy``), so one episode's writes never reach another. The
module's caches hold only the template databases and what is read from them (schemas, parameter rows).
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from functools import cache
from typing import Any

IN_DOMAIN = ("bookstore", "company", "school")
OUT_OF_DOMAIN = ("hospital", "airline")

FIRST = (
    "Ava Ben Chloe Daniel Emma Farah George Hannah Isaac Julia Kevin Laura Marcus Nina Oliver Priya Quentin Rosa "
    "Samuel Tara Umar Vera William Xavier Yara Zoe Adrian Bianca Carlos Dana Elena Felix Grace Hugo Irene Jonas "
    "Kara Leo Maya Noah Olga Pablo Rita Stefan Tess Victor Wendy Yusuf Amir Beatrice Cyrus Delia Emil Fiona"
).split()
LAST = (
    "Smith Johnson Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Wilson Anderson Thomas Taylor Moore "
    "Jackson Martin Lee Perez Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Kowalski Novak "
    "Schmidt Rossi Dubois Tanaka Sato Kim Park Chen Wang Singh Patel Okafor Mensah Silva Costa"
).split()
ADJECTIVES = (
    "Silent Hidden Golden Broken Distant Crimson Endless Frozen Quiet Burning Wandering Lost Bright Hollow Secret "
    "Last Wild Gentle Midnight Iron Silver Forgotten Little Northern Restless Velvet Paper Glass Scarlet Shadowed"
).split()
NOUNS = (
    "River Garden Empire Voyage Harbor Forest Lantern Kingdom Mirror Orchard Storm Tower Island Letter Compass "
    "Winter Mountain Bridge Feather Signal Horizon Meadow Ember Tide Citadel Canyon Atlas Echo Beacon Archive"
).split()
PLACES = "Avalon Brighton Carthage Dover Eldoria Florence Galway Havana Ithaca Kyoto Lisbon Marrakesh".split()
CITIES = "Boston Chicago Denver Seattle Austin Portland Atlanta Miami Phoenix Dallas Toronto Vancouver".split()
COUNTRIES = "USA UK Canada Ireland Nigeria India Japan France Germany Brazil Australia Spain".split()


class Names:
    """Draws distinct realistic person names (so answers name each person unambiguously)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set[str]()

    def __call__(self) -> str:
        while True:
            name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
            if name not in self.used:
                self.used.add(name)
                return name


def _titles(rng: random.Random, count: int, shapes: Sequence[str]) -> list[str]:
    """Distinct titles from adjective/noun/place shapes (no commas, so list answers split cleanly)."""
    seen: list[str] = []
    while len(seen) < count:
        title = rng.choice(shapes).format(a=rng.choice(ADJECTIVES), n=rng.choice(NOUNS), p=rng.choice(PLACES))
        title = "An " + title[2:] if title[:2] == "A " and title[2] in "AEIOU" else title
        if title not in seen:
            seen.append(title)
    return seen


def _day(rng: random.Random, start: date, span_days: int) -> date:
    """A random day in ``[start, start + span_days)``."""
    return start + timedelta(days=rng.randrange(span_days))


def _fill(conn: sqlite3.Connection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows given in column order."""
    marks = ", ".join("?" * len(rows[0]))
    conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _bookstore(conn: sqlite3.Connection, rng: random.Random) -> None:
    conn.executescript("""
        CREATE TABLE authors (author_id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL,
            birth_year INTEGER);
        CREATE TABLE genres (genre_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE books (book_id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE,
            author_id INTEGER NOT NULL REFERENCES authors(author_id),
            genre_id INTEGER NOT NULL REFERENCES genres(genre_id), published_year INTEGER NOT NULL,
            price REAL NOT NULL, pages INTEGER NOT NULL, stock INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE, joined_year INTEGER NOT NULL);
        CREATE TABLE orders (order_id INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(customer_id), order_date TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'shipped', 'delivered', 'cancelled')));
        CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders(order_id),
            book_id INTEGER NOT NULL REFERENCES books(book_id), quantity INTEGER NOT NULL,
            unit_price REAL NOT NULL, PRIMARY KEY (order_id, book_id));
    """)
    name = Names(rng)
    _fill(conn, "authors", [(i, name(), rng.choice(COUNTRIES), rng.randint(1930, 1995)) for i in range(1, 41)])
    genres = "Fantasy|Science Fiction|Mystery|Romance|History|Biography|Poetry|Thriller|Young Adult|Cooking".split("|")
    _fill(conn, "genres", list(enumerate(genres, 1)))
    titles = _titles(rng, 150, ("The {a} {n}", "{n} of {p}", "A {n} in {p}", "{a} {n}", "The {n} of {p}"))
    books = [
        (i, t, rng.randint(1, 40), rng.randint(1, 10), rng.randint(1975, 2024), round(rng.uniform(6, 45), 2),
         rng.randint(90, 900), rng.randint(0, 60))
        for i, t in enumerate(titles, 1)
    ]
    _fill(conn, "books", books)
    customers = []
    for i in range(1, 91):
        full = name()
        customers.append((i, full, rng.choice(CITIES), full.lower().replace(" ", ".") + "@mail.example",
                          rng.randint(2015, 2024)))
    _fill(conn, "customers", customers)
    statuses = ("delivered", "delivered", "delivered", "shipped", "pending", "cancelled")
    orders, items = [], []
    for i in range(1, 281):
        orders.append((i, rng.randint(1, 90), _day(rng, date(2021, 1, 1), 1460).isoformat(), rng.choice(statuses)))
        for book in rng.sample(books, rng.randint(1, 3)):
            items.append((i, book[0], rng.randint(1, 4), book[5]))
    _fill(conn, "orders", orders)
    _fill(conn, "order_items", items)


DEPARTMENTS = "Engineering|Sales|Marketing|Finance|Human Resources|Legal|Operations|Customer Support".split("|")
JOB_TITLES = ("Manager", "Senior Analyst", "Analyst", "Analyst", "Associate", "Associate", "Specialist", "Intern")
PAY = {"Director": (140, 190), "Manager": (95, 140), "Senior Analyst": (80, 115), "Analyst": (60, 90),
       "Associate": (48, 70), "Specialist": (55, 85), "Intern": (30, 42)}


def _company(conn: sqlite3.Connection, rng: random.Random) -> None:
    conn.executescript("""
        CREATE TABLE departments (dept_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, city TEXT NOT NULL,
            budget INTEGER NOT NULL);
        CREATE TABLE employees (emp_id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
            dept_id INTEGER NOT NULL REFERENCES departments(dept_id),
            manager_id INTEGER REFERENCES employees(emp_id), job_title TEXT NOT NULL, hire_date TEXT NOT NULL,
            salary INTEGER NOT NULL);
        CREATE TABLE projects (project_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
            dept_id INTEGER NOT NULL REFERENCES departments(dept_id), start_date TEXT NOT NULL,
            budget INTEGER NOT NULL);
        CREATE TABLE assignments (emp_id INTEGER NOT NULL REFERENCES employees(emp_id),
            project_id INTEGER NOT NULL REFERENCES projects(project_id), role TEXT NOT NULL,
            hours INTEGER NOT NULL, PRIMARY KEY (emp_id, project_id));
    """)
    _fill(conn, "departments", [(i, d, rng.choice(CITIES[:6]), rng.randrange(400, 3000) * 1000)
                                for i, d in enumerate(DEPARTMENTS, 1)])
    name, employees = Names(rng), []
    heads: dict[int, list[int]] = {}
    for emp_id in range(1, 171):
        dept = emp_id if emp_id <= len(DEPARTMENTS) else rng.randint(1, len(DEPARTMENTS))
        title = "Director" if emp_id <= len(DEPARTMENTS) else rng.choice(JOB_TITLES)
        first, last = name().split()
        leads = heads.setdefault(dept, [])
        manager = None if title == "Director" else rng.choice(leads)
        if title in ("Director", "Manager"):
            leads.append(emp_id)
        hired = _day(rng, date(2008, 1, 1), 6200).isoformat()
        employees.append((emp_id, first, last, dept, manager, title, hired, rng.randint(*PAY[title]) * 1000))
    _fill(conn, "employees", employees)
    codenames = _titles(rng, 32, ("{n}", "{a} {n}", "{n} {p}"))
    _fill(conn, "projects", [(i, n, rng.randint(1, len(DEPARTMENTS)), _day(rng, date(2019, 1, 1), 2000).isoformat(),
                              rng.randrange(50, 900) * 1000) for i, n in enumerate(codenames, 1)])
    pairs = sorted({(rng.randint(1, 170), rng.randint(1, 32)) for _ in range(360)})
    roles = ("lead", "developer", "developer", "analyst", "reviewer", "consultant")
    _fill(conn, "assignments", [(e, p, rng.choice(roles), rng.randrange(10, 400)) for e, p in pairs])


COURSES = (
    "Algebra I:Mathematics|Geometry:Mathematics|Calculus:Mathematics|Statistics:Mathematics|Mechanics:Physics|"
    "Electricity:Physics|Organic Chemistry:Chemistry|Lab Chemistry:Chemistry|Genetics:Biology|Ecology:Biology|"
    "World History:History|Civics:History|American Literature:English|Creative Writing:English|Poetry:English|"
    "Drawing:Art|Sculpture:Art|Choir:Music|Orchestra:Music|Programming:Computer Science|Robotics:Computer Science|"
    "Spanish I:Languages|French I:Languages"
)
TERMS = ("2023-fall", "2024-spring", "2024-fall")


def _school(conn: sqlite3.Connection, rng: random.Random) -> None:
    conn.executescript("""
        CREATE TABLE teachers (teacher_id INTEGER PRIMARY KEY, name TEXT NOT NULL, subject TEXT NOT NULL,
            hired_year INTEGER NOT NULL);
        CREATE TABLE students (student_id INTEGER PRIMARY KEY, name TEXT NOT NULL,
            grade_level INTEGER NOT NULL CHECK (grade_level BETWEEN 9 AND 12), house TEXT NOT NULL,
            birth_year INTEGER NOT NULL);
        CREATE TABLE courses (course_id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, subject TEXT NOT NULL,
            teacher_id INTEGER NOT NULL REFERENCES teachers(teacher_id), credits INTEGER NOT NULL,
            room TEXT NOT NULL);
        CREATE TABLE enrollments (student_id INTEGER NOT NULL REFERENCES students(student_id),
            course_id INTEGER NOT NULL REFERENCES courses(course_id), term TEXT NOT NULL, grade INTEGER,
            PRIMARY KEY (student_id, course_id, term));
    """)
    courses = [tuple(course.split(":")) for course in COURSES.split("|")]
    subjects = sorted({s for _, s in courses})
    name, teachers = Names(rng), []
    for i in range(1, 19):
        teachers.append((i, name(), subjects[(i - 1) % len(subjects)], rng.randint(1995, 2023)))
    _fill(conn, "teachers", teachers)
    by_subject = {s: [t[0] for t in teachers if t[2] == s] for s in subjects}
    _fill(conn, "courses", [(i, t, s, rng.choice(by_subject[s]), rng.choice((2, 3, 3, 4, 5)),
                             f"{rng.choice('ABCD')}{rng.randint(101, 130)}") for i, (t, s) in enumerate(courses, 1)])
    students = [(i, name(), rng.randint(9, 12), rng.choice(("Oak", "Maple", "Cedar", "Pine")),
                 rng.randint(2006, 2010)) for i in range(1, 131)]
    _fill(conn, "students", students)
    enrollments = []
    for student in students:
        for term in TERMS:
            for course in sorted(rng.sample(range(1, len(courses) + 1), rng.randint(2, 3))):
                enrollments.append((student[0], course, term, min(100, int(rng.gauss(76, 12)))))
    _fill(conn, "enrollments", enrollments)


WARDS = "Cardiology|Oncology|Pediatrics|Orthopedics|Neurology|Maternity|Intensive Care|General Surgery".split("|")
DIAGNOSES = (
    "heart failure|arrhythmia|pneumonia|appendicitis|hip fracture|stroke|migraine|asthma|sepsis|"
    "kidney stones|diabetes|leukemia|concussion|bronchitis"
).split("|")
DRUGS = {"Amoxicillin": (250, 500), "Ibuprofen": (200, 400, 600), "Paracetamol": (500, 1000), "Metformin": (500, 850),
         "Atorvastatin": (10, 20, 40), "Warfarin": (2, 5), "Omeprazole": (20, 40), "Morphine": (10, 15, 30),
         "Prednisone": (5, 10, 20), "Salbutamol": (2, 4)}


def _hospital(conn: sqlite3.Connection, rng: random.Random) -> None:
    conn.executescript("""
        CREATE TABLE wards (ward_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, floor INTEGER NOT NULL,
            beds INTEGER NOT NULL);
        CREATE TABLE doctors (doctor_id INTEGER PRIMARY KEY, name TEXT NOT NULL, specialty TEXT NOT NULL,
            ward_id INTEGER REFERENCES wards(ward_id));
        CREATE TABLE patients (patient_id INTEGER PRIMARY KEY, name TEXT NOT NULL, birth_year INTEGER NOT NULL,
            sex TEXT NOT NULL CHECK (sex IN ('F', 'M')), city TEXT NOT NULL);
        CREATE TABLE admissions (admission_id INTEGER PRIMARY KEY,
            patient_id INTEGER NOT NULL REFERENCES patients(patient_id),
            doctor_id INTEGER NOT NULL REFERENCES doctors(doctor_id),
            ward_id INTEGER NOT NULL REFERENCES wards(ward_id), admitted_on TEXT NOT NULL, discharged_on TEXT,
            diagnosis TEXT NOT NULL);
        CREATE TABLE prescriptions (prescription_id INTEGER PRIMARY KEY,
            admission_id INTEGER NOT NULL REFERENCES admissions(admission_id), drug TEXT NOT NULL,
            dose_mg INTEGER NOT NULL, days INTEGER NOT NULL);
    """)
    _fill(conn, "wards", [(i, w, 1 + (i - 1) // 2, rng.randrange(12, 40)) for i, w in enumerate(WARDS, 1)])
    name, doctors = Names(rng), []
    for i in range(1, 33):
        ward = (i - 1) % len(WARDS) + 1 if i <= 28 else None
        doctors.append((i, name(), WARDS[ward - 1] if ward else rng.choice(("Anesthesiology", "Radiology")), ward))
    _fill(conn, "doctors", doctors)
    _fill(conn, "patients", [(i, name(), rng.randint(1935, 2020), rng.choice("FM"), rng.choice(CITIES))
                             for i in range(1, 171)])
    admissions: list[tuple[Any, ...]] = []
    prescriptions: list[tuple[Any, ...]] = []
    for i in range(1, 341):
        doctor = rng.choice(doctors[:28])
        admitted = _day(rng, date(2022, 1, 1), 1000)
        stay = None if admitted > date(2024, 8, 1) and rng.random() < 0.5 else admitted + timedelta(rng.randint(1, 21))
        admissions.append((i, rng.randint(1, 170), doctor[0], doctor[3], admitted.isoformat(),
                           stay and stay.isoformat(), rng.choice(DIAGNOSES)))
        for drug in rng.sample(sorted(DRUGS), rng.randint(0, 3)):
            prescriptions.append((len(prescriptions) + 1, i, drug, rng.choice(DRUGS[drug]), rng.randint(1, 30)))
    _fill(conn, "admissions", admissions)
    _fill(conn, "prescriptions", prescriptions)


AIRPORTS = (
    "JFK:New York:USA:40.6:-73.8|LAX:Los Angeles:USA:33.9:-118.4|ORD:Chicago:USA:42.0:-87.9|LHR:London:UK:51.5:-0.5|"
    "CDG:Paris:France:49.0:2.6|FRA:Frankfurt:Germany:50.0:8.6|AMS:Amsterdam:Netherlands:52.3:4.8|"
    "MAD:Madrid:Spain:40.5:-3.6|FCO:Rome:Italy:41.8:12.2|NRT:Tokyo:Japan:35.8:140.4|SIN:Singapore:Singapore:1.4:104.0|"
    "SYD:Sydney:Australia:-33.9:151.2|DXB:Dubai:UAE:25.3:55.4|YYZ:Toronto:Canada:43.7:-79.6|"
    "GRU:Sao Paulo:Brazil:-23.4:-46.5|MEX:Mexico City:Mexico:19.4:-99.1"
)
AIRCRAFT = (("Airbus A320", 180), ("Airbus A321", 220), ("Airbus A330", 290), ("Airbus A350", 325),
            ("Boeing 737", 170), ("Boeing 777", 360), ("Boeing 787", 250), ("Embraer E190", 100))


def _great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Distance between airports, so flight lengths and durations look real."""
    p1, p2, dlon = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    cos_angle = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dlon)
    return round(6371 * math.acos(max(-1.0, min(1.0, cos_angle))))


def _airline(conn: sqlite3.Connection, rng: random.Random) -> None:
    conn.executescript("""
        CREATE TABLE airports (code TEXT PRIMARY KEY, city TEXT NOT NULL, country TEXT NOT NULL);
        CREATE TABLE aircraft (aircraft_id INTEGER PRIMARY KEY, model TEXT NOT NULL, seats INTEGER NOT NULL);
        CREATE TABLE flights (flight_id INTEGER PRIMARY KEY, flight_no TEXT NOT NULL UNIQUE,
            origin TEXT NOT NULL REFERENCES airports(code), destination TEXT NOT NULL REFERENCES airports(code),
            aircraft_id INTEGER NOT NULL REFERENCES aircraft(aircraft_id), departs_at TEXT NOT NULL,
            duration_min INTEGER NOT NULL, distance_km INTEGER NOT NULL);
        CREATE TABLE passengers (passenger_id INTEGER PRIMARY KEY, name TEXT NOT NULL, nationality TEXT NOT NULL,
            tier TEXT NOT NULL CHECK (tier IN ('none', 'silver', 'gold', 'platinum')));
        CREATE TABLE bookings (booking_id INTEGER PRIMARY KEY, flight_id INTEGER NOT NULL REFERENCES flights(flight_id),
            passenger_id INTEGER NOT NULL REFERENCES passengers(passenger_id),
            fare_class TEXT NOT NULL CHECK (fare_class IN ('economy', 'premium', 'business')), price REAL NOT NULL);
    """)
    airports = {code: rest for code, *rest in (airport.split(":") for airport in AIRPORTS.split("|"))}
    _fill(conn, "airports", [(code, city, country) for code, (city, country, _, _) in sorted(airports.items())])
    _fill(conn, "aircraft", [(i, m, s) for i, (m, s) in enumerate(AIRCRAFT + AIRCRAFT[:4], 1)])
    flights = []
    for i, number in enumerate(rng.sample(range(100, 1000), 230), 1):
        origin, dest = rng.sample(sorted(airports), 2)
        km = _great_circle_km(*map(float, airports[origin][2:] + airports[dest][2:]))
        day = _day(rng, date(2024, 1, 1), 366).isoformat()
        when = f"{day} {rng.randrange(5, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}"
        plane = rng.choice((3, 4, 6, 7, 11, 12) if km > 4000 else (1, 2, 5, 8, 9, 10))  # wide bodies fly far
        flights.append((i, f"AX{number}", origin, dest, plane, when, 35 + km * 60 // 820, km))
    _fill(conn, "flights", flights)
    tiers = ("none", "none", "none", "silver", "silver", "gold", "platinum")
    _fill(conn, "passengers", [(i, name, rng.choice(COUNTRIES), rng.choice(tiers))
                               for i, name in enumerate((Names(rng)() for _ in range(200)), 1)])
    fares = {"economy": 0.09, "premium": 0.16, "business": 0.35}
    bookings = []
    for i in range(1, 761):
        flight, fare = rng.choice(flights), rng.choice(("economy",) * 6 + ("premium",) * 2 + ("business",))
        price = round(flight[7] * fares[fare] * rng.uniform(0.8, 1.3), 2)
        bookings.append((i, flight[0], rng.randint(1, 200), fare, price))
    _fill(conn, "bookings", bookings)


BUILDERS: dict[str, tuple[Callable[[sqlite3.Connection, random.Random], None], int]] = {
    "bookstore": (_bookstore, 101),
    "company": (_company, 202),
    "school": (_school, 303),
    "hospital": (_hospital, 404),
    "airline": (_airline, 505),
}
DATABASES = IN_DOMAIN + OUT_OF_DOMAIN


@cache
def template_db(name: str) -> sqlite3.Connection:
    """Build a database once per process; episodes copy it and never write to it."""
    builder, seed = BUILDERS[name]
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    builder(conn, random.Random(seed))
    conn.commit()
    return conn


@cache
def query_rows(db: str, query: str) -> tuple[Any, ...]:
    """The rows of a query on a template database (one value per row when it has one column), sorted."""
    rows = template_db(db).execute(query).fetchall()
    return tuple(sorted(row[0] if len(row) == 1 else tuple(row) for row in rows))


def fresh_copy(name: str) -> sqlite3.Connection:
    """A private in-memory copy of a template database, with foreign keys enforced like the template."""
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    template_db(name).backup(conn)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _split_top_level(text: str) -> list[str]:
    """Split a column list on the commas outside parentheses (one column definition per line)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    return parts + [text[start:].strip()]


@cache
def table_schemas(db: str) -> dict[str, str]:
    """Each table's CREATE statement, one column per line: the compact schema a policy reads best."""
    schemas = {}
    for name, sql in template_db(db).execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        flat = " ".join(sql.split())
        head, body = flat.split("(", 1)
        columns = _split_top_level(body.rsplit(")", 1)[0])
        schemas[name] = head.strip() + " (\n  " + ",\n  ".join(columns) + "\n)"
    return schemas


def tables_touched(db: str, statements: tuple[str, ...]) -> list[str]:
    """The tables the statements read or write, found by preparing them (EXPLAIN) under a recording authorizer."""
    touched: set[str] = set()

    def record(action: int, arg1: str | None, *_: Any) -> int:
        if action in (sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE):
            touched.add(arg1 or "")
        return sqlite3.SQLITE_OK

    conn = fresh_copy(db)
    conn.set_authorizer(record)
    for statement in statements:
        conn.execute("EXPLAIN " + statement).fetchall()
    conn.close()
    return sorted(touched & set(table_schemas(db)))
