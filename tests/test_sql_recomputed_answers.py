"""Every shipped SQL answer, recomputed without the generator: plain Python over the tables' rows.

Each answer task's parameters are read back out of its question text, and a hand-written Python
function per template works the answer out from full-table reads (``SELECT *``: no filter, join or
aggregate of the generator's SQL is used). So a wrong answer, a question that says something other
than what the SQL computes, or a rounding that is not half-up at the stated precision fails here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache
from types import SimpleNamespace
from typing import Any

import pytest

from tooluse_envs.answers import parse_exact
from tooluse_envs.domains.sql_databases import fresh_copy, template_db
from tooluse_envs.domains.sql_questions import ID_TEMPLATES
from tooluse_envs.domains.sql_questions_ood import UNSEEN_DATABASE_TEMPLATES, UNSEEN_TEMPLATE_TEMPLATES
from tooluse_envs.domains.sql_template import SUFFIX, question_pattern
from tooluse_envs.tasks import SPLITS, Task, load_tasks

TEMPLATES = {t.name: t for t in ID_TEMPLATES + UNSEEN_DATABASE_TEMPLATES + UNSEEN_TEMPLATE_TEMPLATES}


@cache
def tables(db: str) -> SimpleNamespace:
    """Every table of a database as a list of rows with attribute access, read with SELECT * only."""
    conn = template_db(db)
    out = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        cursor = conn.execute(f'SELECT * FROM "{name}"')
        columns = [d[0] for d in cursor.description]
        out[name] = [SimpleNamespace(**dict(zip(columns, row, strict=True))) for row in cursor]
    return SimpleNamespace(**out)


def num(value: Any) -> Fraction:
    return Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)


def mean(values: list[Any]) -> Fraction:
    return sum(map(num, values), Fraction(0)) / len(values)


def round_half_up(value: Fraction, places: int) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def month(text: str) -> str:
    return datetime.strptime(text, "%B %Y").strftime("%Y-%m")


def by(rows: list[Any], key: str) -> dict[Any, Any]:
    return {getattr(row, key): row for row in rows}


def full(e: Any) -> str:
    return f"{e.first_name} {e.last_name}"


# -- bookstore ------------------------------------------------------------------------------------


def books_of(d: SimpleNamespace, genre: str) -> list[Any]:
    gid = next(g.genre_id for g in d.genres if g.name == genre)
    return [b for b in d.books if b.genre_id == gid]


def items_of(d: SimpleNamespace, title: str) -> list[tuple[Any, Any]]:
    book = next(b for b in d.books if b.title == title)
    orders = by(d.orders, "order_id")
    return [(i, orders[i.order_id]) for i in d.order_items if i.book_id == book.book_id]


def orders_per_customer(d: SimpleNamespace, city: str, year: str) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    customers = by(d.customers, "customer_id")
    for o in d.orders:
        if customers[o.customer_id].city == city and o.order_date[:4] == year:
            counts[o.customer_id] += 1
    return counts


BOOKSTORE: dict[str, Callable[..., Any]] = {
    "cheap_in_genre": lambda d, genre, price: [b.title for b in books_of(d, genre) if num(b.price) < num(int(price))],
    "author_book_count": lambda d, author, year: sum(
        1 for b in d.books if by(d.authors, "author_id")[b.author_id].name == author and b.published_year > int(year)
    ),
    "genre_average": lambda d, metric_0, genre, decade: round_half_up(
        mean(
            [
                b.price if metric_0 == "price" else b.pages
                for b in books_of(d, genre)
                if int(decade) <= b.published_year <= int(decade) + 9
            ]
        ),
        2,
    ),
    "city_customers": lambda d, city, year: [
        c.name for c in d.customers if c.city == city and c.joined_year >= int(year)
    ],
    "most_expensive": lambda d, n, genre, year: [
        b.title
        for b in sorted(
            (b for b in books_of(d, genre) if b.published_year > int(year)), key=lambda b: (-num(b.price), b.title)
        )
    ][: int(n)],
    "book_revenue": lambda d, title, status: round_half_up(
        sum((i.quantity * num(i.unit_price) for i, o in items_of(d, title) if o.status == status), Fraction(0)), 2
    ),
    "customer_orders": lambda d, customer, year: sum(
        1
        for o in d.orders
        if by(d.customers, "customer_id")[o.customer_id].name == customer and o.order_date.startswith(year)
    ),
    "country_authors": lambda d, country, year: [
        a.name for a in d.authors if a.country == country and a.birth_year < int(year)
    ],
    "low_stock": lambda d, genre, n: [b.title for b in books_of(d, genre) if b.stock < int(n)],
    "copies_sold": lambda d, title, year: sum(
        i.quantity for i, o in items_of(d, title) if o.status != "cancelled" and o.order_date[:4] == year
    ),
    "monthly_customers": lambda d, month_0, status: sorted(
        {
            by(d.customers, "customer_id")[o.customer_id].name
            for o in d.orders
            if o.order_date[:7] == month(month_0) and o.status == status
        }
    ),
    "prolific_authors": lambda d, n, year: [
        a.name
        for a in d.authors
        if sum(b.author_id == a.author_id and b.published_year > int(year) for b in d.books) >= int(n)
    ],
    "pricier_than_genre": lambda d, pair_0, pair_1: [
        b.title for b in books_of(d, pair_0) if num(b.price) > mean([x.price for x in books_of(d, pair_1)])
    ],
    "never_status": lambda d, city, year, status: [
        c.name
        for c in d.customers
        if c.city == city
        and c.joined_year >= int(year)
        and not any(o.customer_id == c.customer_id and o.status == status for o in d.orders)
    ],
    "pricier_than_store": lambda d, genre, year: sum(
        1
        for b in books_of(d, genre)
        if b.published_year > int(year) and num(b.price) > mean([x.price for x in d.books])
    ),
    "frequent_customers": lambda d, city, n, year: sum(
        count >= int(n) for count in orders_per_customer(d, city, year).values()
    ),
    "most_orders": lambda d, city, year: max(orders_per_customer(d, city, year).values()),
}

# -- company --------------------------------------------------------------------------------------


def staff(d: SimpleNamespace, dept: str) -> list[Any]:
    did = next(x.dept_id for x in d.departments if x.name == dept)
    return [e for e in d.employees if e.dept_id == did]


def hired(e: Any) -> int:
    return int(e.hire_date[:4])


def members(d: SimpleNamespace, project: str, role: str) -> list[tuple[Any, Any]]:
    pid = next(p.project_id for p in d.projects if p.name == project)
    people = by(d.employees, "emp_id")
    return [(a, people[a.emp_id]) for a in d.assignments if a.project_id == pid and a.role == role]


def top_per_department(d: SimpleNamespace, title: str, year: str) -> list[str]:
    best: dict[int, Any] = {}
    for e in d.employees:
        if e.job_title == title and hired(e) < int(year):
            rank = (-e.salary, e.last_name, e.first_name)
            if e.dept_id not in best or rank < (
                -best[e.dept_id].salary,
                best[e.dept_id].last_name,
                best[e.dept_id].first_name,
            ):
                best[e.dept_id] = e
    return [full(e) for e in best.values()]


COMPANY: dict[str, Callable[..., Any]] = {
    "dept_high_earners": lambda d, dept, salary: [full(e) for e in staff(d, dept) if e.salary > int(salary)],
    "hired_since": lambda d, title, dept, year: sum(
        1 for e in staff(d, dept) if e.job_title == title and hired(e) >= int(year)
    ),
    "average_salary": lambda d, title, dept, year: round_half_up(
        mean([e.salary for e in staff(d, dept) if e.job_title == title and hired(e) < int(year)]), 2
    ),
    "direct_reports": lambda d, boss_0, boss_1, year: [
        full(e)
        for e in d.employees
        if e.manager_id is not None
        and hired(e) >= int(year)
        and full(by(d.employees, "emp_id")[e.manager_id]) == f"{boss_0} {boss_1}"
    ],
    "top_paid": lambda d, n, dept, year: [
        full(e)
        for e in sorted(
            (e for e in staff(d, dept) if hired(e) < int(year)), key=lambda e: (-e.salary, e.last_name, e.first_name)
        )
    ][: int(n)],
    "project_members": lambda d, project, role: [full(e) for _, e in members(d, project, role)],
    "project_hours": lambda d, role, project: sum(a.hours for a, _ in members(d, project, role)),
    "hired_in_year": lambda d, title, year: [
        full(e) for e in d.employees if e.job_title == title and hired(e) == int(year)
    ],
    "dept_projects": lambda d, dept, year, budget: [
        p.name
        for p in d.projects
        if p.dept_id == next(x.dept_id for x in d.departments if x.name == dept)
        and int(p.start_date[:4]) >= int(year)
        and p.budget >= int(budget)
    ],
    "salary_bill": lambda d, dept, year: sum(e.salary for e in staff(d, dept) if hired(e) < int(year)),
    "first_hired": lambda d, title, dept, year: [
        full(
            min(
                (e for e in staff(d, dept) if e.job_title == title and hired(e) >= int(year)),
                key=lambda e: (e.hire_date, e.last_name, e.first_name),
            )
        )
    ],
    "top_paid_per_dept": top_per_department,
    "big_departments": lambda d, n, year: [
        x.name for x in d.departments if sum(hired(e) >= int(year) for e in staff(d, x.name)) >= int(n)
    ],
    "unassigned": lambda d, dept, year: [
        full(e)
        for e in staff(d, dept)
        if hired(e) >= int(year) and not any(a.emp_id == e.emp_id for a in d.assignments)
    ],
    "above_title_average": lambda d, dept, title: [
        full(e) for e in staff(d, dept) if e.salary > mean([x.salary for x in d.employees if x.job_title == title])
    ],
}

# -- school ---------------------------------------------------------------------------------------


def enrolled(d: SimpleNamespace, term: str) -> list[tuple[Any, Any, Any]]:
    """(enrollment, student, course) of one term."""
    students, courses = by(d.students, "student_id"), by(d.courses, "course_id")
    return [(e, students[e.student_id], courses[e.course_id]) for e in d.enrollments if e.term == term]


def best_per_course(d: SimpleNamespace, house: str, subject: str, term: str) -> list[str]:
    best: dict[int, tuple[int, str]] = {}
    for e, s, c in enrolled(d, term):
        if c.subject == subject and s.house == house:
            rank = (-e.grade, s.name)
            best[c.course_id] = min(best.get(c.course_id, rank), rank)
    return [name for _, name in best.values()]


def term_average_at_least(d: SimpleNamespace, level: str, score: str, term: str) -> list[str]:
    grades: dict[str, list[int]] = defaultdict(list)
    for e, s, _ in enrolled(d, term):
        if s.grade_level == int(level):
            grades[s.name].append(e.grade)
    return [name for name, values in grades.items() if mean(values) >= int(score)]


SCHOOL: dict[str, Callable[..., Any]] = {
    "top_scorers": lambda d, score, course, term: [
        s.name for e, s, c in enrolled(d, term) if c.title == course and e.grade >= int(score)
    ],
    "course_average": lambda d, level, course, term: round_half_up(
        mean([e.grade for e, s, c in enrolled(d, term) if c.title == course and s.grade_level == int(level)]), 2
    ),
    "student_courses": lambda d, student, term: [c.title for _, s, c in enrolled(d, term) if s.name == student],
    "low_scorers_in_subject": lambda d, score, subject, term: sorted(
        {s.name for e, s, c in enrolled(d, term) if c.subject == subject and e.grade < int(score)}
    ),
    "course_ranking": lambda d, n, course, term: [
        s.name
        for _, s in sorted(
            ((e, s) for e, s, c in enrolled(d, term) if c.title == course), key=lambda p: (-p[0].grade, p[1].name)
        )
    ][: int(n)],
    "house_enrollment": lambda d, level, house, course, term: sum(
        1 for _, s, c in enrolled(d, term) if c.title == course and s.grade_level == int(level) and s.house == house
    ),
    "student_subjects": lambda d, student, term: sorted(
        {c.subject for _, s, c in enrolled(d, term) if s.name == student}
    ),
    "subject_best": lambda d, subject, term, house: max(
        e.grade for e, s, c in enrolled(d, term) if c.subject == subject and s.house == house
    ),
    "credits_earned": lambda d, student, term: sum(
        c.credits for e, s, c in enrolled(d, term) if s.name == student and e.grade >= 60
    ),
    "good_averages": term_average_at_least,
    "best_per_course": best_per_course,
    "skipped_subject": lambda d, level, house, subject, term: [
        s.name
        for s in d.students
        if s.grade_level == int(level)
        and s.house == house
        and not any(x.student_id == s.student_id and c.subject == subject for x, _, c in enrolled(d, term))
    ],
}

# -- hospital and airline -------------------------------------------------------------------------


def admissions(d: SimpleNamespace) -> list[tuple[Any, Any, Any, Any]]:
    """(admission, patient, doctor, ward) for every admission."""
    patients, doctors, wards = by(d.patients, "patient_id"), by(d.doctors, "doctor_id"), by(d.wards, "ward_id")
    return [(a, patients[a.patient_id], doctors[a.doctor_id], wards[a.ward_id]) for a in d.admissions]


def prescribed(d: SimpleNamespace, drug: str) -> list[tuple[Any, Any, Any, Any, Any]]:
    """(prescription, admission, patient, doctor, ward) for every prescription of one drug."""
    stays = {a.admission_id: (a, p, doc, w) for a, p, doc, w in admissions(d)}
    return [(r, *stays[r.admission_id]) for r in d.prescriptions if r.drug == drug]


HOSPITAL: dict[str, Callable[..., Any]] = {
    "ward_diagnosis_patients": lambda d, ward, diagnosis: sorted(
        {p.name for a, p, _, w in admissions(d) if w.name == ward and a.diagnosis == diagnosis}
    ),
    "doctor_admissions": lambda d, doctor, year: sum(
        1 for a, _, doc, _ in admissions(d) if doc.name == doctor and a.admitted_on[:4] == year
    ),
    "drug_total_mg": lambda d, drug, diagnosis: sum(
        r.dose_mg * r.days for r, a, *_ in prescribed(d, drug) if a.diagnosis == diagnosis
    ),
    "city_patients": lambda d, city, year: [p.name for p in d.patients if p.city == city and p.birth_year < int(year)],
    "oldest_patients": lambda d, n, city: [
        p.name for p in sorted((p for p in d.patients if p.city == city), key=lambda p: (p.birth_year, p.name))
    ][: int(n)],
    "ward_average_dose": lambda d, drug, ward: round_half_up(
        mean([r.dose_mg for r, _, _, _, w in prescribed(d, drug) if w.name == ward]), 2
    ),
    "doctor_patients": lambda d, doctor, year: sorted(
        {p.name for a, p, doc, _ in admissions(d) if doc.name == doctor and a.admitted_on[:4] == year}
    ),
    "largest_dose": lambda d, drug, city: max(r.dose_mg for r, _, p, _, _ in prescribed(d, drug) if p.city == city),
    "first_admission": lambda d, ward, year: [
        min((a.admitted_on, p.name) for a, p, _, w in admissions(d) if w.name == ward and a.admitted_on[:4] == year)[1]
    ],
}


def flights_from(d: SimpleNamespace, city: str) -> list[Any]:
    codes = {a.code for a in d.airports if a.city == city}
    return [f for f in d.flights if f.origin in codes]


def fares(d: SimpleNamespace) -> list[tuple[Any, Any]]:
    """(booking, flight) for every booking."""
    flights = by(d.flights, "flight_id")
    return [(b, flights[b.flight_id]) for b in d.bookings]


AIRLINE: dict[str, Callable[..., Any]] = {
    "model_departures": lambda d, city, model: [
        f.flight_no for f in flights_from(d, city) if by(d.aircraft, "aircraft_id")[f.aircraft_id].model == model
    ],
    "passenger_bookings": lambda d, fare, passenger: sum(
        1
        for b in d.bookings
        if b.fare_class == fare and by(d.passengers, "passenger_id")[b.passenger_id].name == passenger
    ),
    "tier_nationality": lambda d, nationality, tier: [
        p.name for p in d.passengers if p.nationality == nationality and p.tier == tier
    ],
    "flight_revenue": lambda d, no: round_half_up(
        sum((num(b.price) for b, f in fares(d) if f.flight_no == no), Fraction(0)), 2
    ),
    "longest_routes": lambda d, n, city: [
        f.flight_no for f in sorted(flights_from(d, city), key=lambda f: (-f.distance_km, f.flight_no))
    ][: int(n)],
    "average_fare": lambda d, fare, city: round_half_up(
        mean([b.price for b, f in fares(d) if b.fare_class == fare and f in flights_from(d, city)]), 2
    ),
    "monthly_model_flights": lambda d, model, month_0: sum(
        1
        for f in d.flights
        if by(d.aircraft, "aircraft_id")[f.aircraft_id].model == model and f.departs_at[:7] == month(month_0)
    ),
    "first_departure": lambda d, city, day: [
        min((f.departs_at, f.flight_no) for f in flights_from(d, city) if f.departs_at[:10] >= day)[1]
    ],
    "longest_duration": lambda d, city, country: max(
        f.duration_min for f in flights_from(d, city) if by(d.airports, "code")[f.destination].country == country
    ),
}

RECOMPUTE: dict[str, Callable[..., Any]] = BOOKSTORE | COMPANY | SCHOOL | HOSPITAL | AIRLINE


def parameters(task: Task) -> dict[str, str]:
    """The template parameters as the question states them."""
    template = TEMPLATES[task.template]
    wording = template.paraphrase if task.axis == "paraphrase" else template.question
    found = question_pattern(wording, SUFFIX[template.suffix_kind]).fullmatch(task.question)
    assert found, f"{task.id}: question does not follow its template's wording: {task.question!r}"
    return found.groupdict()


def test_every_answer_template_has_an_independent_recomputation():
    answer_templates = {name for name, t in TEMPLATES.items() if t.kind != "state"}
    assert answer_templates == set(RECOMPUTE)


@pytest.mark.parametrize("split", SPLITS)
def test_every_shipped_answer_matches_a_plain_python_recomputation(split):
    wrong = []
    for task in load_tasks("sql", split):
        if task.expected["kind"] == "state":
            continue
        got = RECOMPUTE[task.template](tables(task.context["database"]), **parameters(task))
        want = task.expected["answer"]
        if task.expected["kind"] == "number":
            ok = (
                num(got) == parse_exact(want)
                and len(str(Decimal(str(want))).partition(".")[2]) <= task.expected["decimals"]
            )
        elif task.expected["ordered"]:
            ok = got == want
        else:
            ok = sorted(got, key=str) == want
        if not ok:
            wrong.append((task.id, task.question, got, want))
    assert not wrong, f"{len(wrong)} answers disagree, first: {wrong[:2]}"


# -- state tasks: the change worked out in Python, applied row by row by primary key ------------------

Change = list[tuple[str, tuple[Any, ...]]]  # statements with ? parameters, each touching one row


def emp_named(d: SimpleNamespace, first: str, last: str) -> Any:
    return next(e for e in d.employees if (e.first_name, e.last_name) == (first, last))


def drop_orders(d: SimpleNamespace, who_1: str, who_0: str) -> Change:
    customer = next(c.customer_id for c in d.customers if c.name == who_0)
    ids = [o.order_id for o in d.orders if o.customer_id == customer and o.status == who_1]
    items = [
        ("DELETE FROM order_items WHERE order_id = ? AND book_id = ?", (i.order_id, i.book_id))
        for i in d.order_items
        if i.order_id in ids
    ]
    return items + [("DELETE FROM orders WHERE order_id = ?", (i,)) for i in ids]


def raise_below_average(d: SimpleNamespace, dept: str, amount: str) -> Change:
    people = staff(d, dept)
    average = mean([e.salary for e in people])
    return [
        ("UPDATE employees SET salary = ? WHERE emp_id = ?", (e.salary + int(amount), e.emp_id))
        for e in people
        if e.salary < average
    ]


def drop_failing(d: SimpleNamespace, term: str, score: str) -> Change:
    grades: dict[int, list[int]] = defaultdict(list)
    for e in d.enrollments:
        if e.term == term:
            grades[e.student_id].append(e.grade)
    failing = {s for s, values in grades.items() if mean(values) < int(score)}
    return [
        (
            "DELETE FROM enrollments WHERE student_id = ? AND course_id = ? AND term = ?",
            (e.student_id, e.course_id, e.term),
        )
        for e in d.enrollments
        if e.term == term and e.student_id in failing
    ]


def enrollment_key(d: SimpleNamespace, student: str, course: str) -> tuple[int, int]:
    return (
        next(s.student_id for s in d.students if s.name == student),
        next(c.course_id for c in d.courses if c.title == course),
    )


STATE: dict[str, Callable[..., Change]] = {
    "price_increase": lambda d, genre, year, amount_0: [
        ("UPDATE books SET price = price + ? WHERE book_id = ?", (float(amount_0), b.book_id))
        for b in books_of(d, genre)
        if b.published_year < int(year)
    ],
    "restock": lambda d, title, n: [
        ("UPDATE books SET stock = ? WHERE book_id = ?", (int(n), b.book_id)) for b in d.books if b.title == title
    ],
    "new_customer": lambda d, person_0, city, person_1, year: [
        (
            "INSERT INTO customers (name, city, email, joined_year) VALUES (?, ?, ?, ?)",
            (person_0, city, person_1, int(year)),
        )
    ],
    "drop_orders": drop_orders,
    "raise": lambda d, title, dept, amount: [
        ("UPDATE employees SET salary = ? WHERE emp_id = ?", (e.salary + int(amount), e.emp_id))
        for e in staff(d, dept)
        if e.job_title == title
    ],
    "transfer": lambda d, emp_0, emp_1, dept: [
        (
            "UPDATE employees SET dept_id = ? WHERE emp_id = ?",
            (next(x.dept_id for x in d.departments if x.name == dept), emp_named(d, emp_0, emp_1).emp_id),
        )
    ],
    "assign": lambda d, emp_0, emp_1, project, role, hours: [
        (
            "INSERT INTO assignments VALUES (?, ?, ?, ?)",
            (
                emp_named(d, emp_0, emp_1).emp_id,
                next(p.project_id for p in d.projects if p.name == project),
                role,
                int(hours),
            ),
        )
    ],
    "drop_assignments": lambda d, project, hours: [
        ("DELETE FROM assignments WHERE emp_id = ? AND project_id = ?", (a.emp_id, a.project_id))
        for a in d.assignments
        if a.hours < int(hours) and a.project_id == next(p.project_id for p in d.projects if p.name == project)
    ],
    "record_grade": lambda d, grade, student, course, term: [
        ("INSERT INTO enrollments VALUES (?, ?, ?, ?)", (*enrollment_key(d, student, course), term, int(grade)))
    ],
    "curve": lambda d, points, course, term: [
        (
            "UPDATE enrollments SET grade = ? WHERE student_id = ? AND course_id = ? AND term = ?",
            (min(100, e.grade + int(points)), e.student_id, e.course_id, e.term),
        )
        for e, _, c in enrolled(d, term)
        if c.title == course
    ],
    "unenroll": lambda d, pair_0, pair_1, pair_2: [
        (
            "DELETE FROM enrollments WHERE student_id = ? AND course_id = ? AND term = ?",
            (*enrollment_key(d, pair_0, pair_1), pair_2),
        )
    ],
    "room_change": lambda d, course, room: [
        ("UPDATE courses SET room = ? WHERE course_id = ?", (room, c.course_id)) for c in d.courses if c.title == course
    ],
    "discharge": lambda d, doctor, day: [
        ("UPDATE admissions SET discharged_on = ? WHERE admission_id = ?", (day, a.admission_id))
        for a, _, doc, _ in admissions(d)
        if doc.name == doctor and a.discharged_on is None
    ],
    "halve_dose": lambda d, drug, ward: [
        ("UPDATE prescriptions SET dose_mg = ? WHERE prescription_id = ?", (r.dose_mg // 2, r.prescription_id))
        for r, _, _, _, w in prescribed(d, drug)
        if w.name == ward
    ],
    "cancel_bookings": lambda d, passenger, day: [
        ("DELETE FROM bookings WHERE booking_id = ?", (b.booking_id,))
        for b, f in fares(d)
        if f.departs_at >= day and by(d.passengers, "passenger_id")[b.passenger_id].name == passenger
    ],
    "upgrade": lambda d, no, amount: [
        (
            "UPDATE bookings SET fare_class = 'premium', price = price + ? WHERE booking_id = ?",
            (int(amount), b.booking_id),
        )
        for b, f in fares(d)
        if f.flight_no == no and b.fare_class == "economy"
    ],
    "restock_unsold": lambda d, genre, n: [
        ("UPDATE books SET stock = ? WHERE book_id = ?", (int(n), b.book_id))
        for b in books_of(d, genre)
        if not any(i.book_id == b.book_id for i in d.order_items)
    ],
    "raise_below_average": raise_below_average,
    "drop_failing": drop_failing,
}


def test_every_state_template_has_an_independent_change():
    assert {name for name, t in TEMPLATES.items() if t.kind == "state"} == set(STATE)


@pytest.mark.parametrize("split", SPLITS)
def test_every_expected_final_state_matches_a_change_worked_out_in_python(split):
    wrong = []
    for task in load_tasks("sql", split):
        if task.expected["kind"] != "state":
            continue
        db = task.context["database"]
        change = STATE[task.template](tables(db), **parameters(task))
        conn = fresh_copy(db)
        for statement, args in change:
            assert conn.execute(statement, args).rowcount == 1, (task.id, statement, args)
        rows = [list(row) for row in conn.execute(task.expected["check"]["query"])]
        conn.close()
        if not change or rows != task.expected["check"]["rows"]:
            wrong.append((task.id, task.question, len(change)))
    assert not wrong, f"{len(wrong)} expected states disagree, first: {wrong[:2]}"
