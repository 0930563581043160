"""Question templates of the SQL domain: a question, the SQL that answers it, and where its constants come from.

A template's parameters are drawn from fixed choices or from the rows of a query on its database, so
questions name real entities; the same values are shown in the question and quoted into the SQL. The
answer is never written here: the generator runs the SQL on the database and records what it returns.
In-domain templates (bookstore, company, school) join at most three tables and use filters, simple
aggregates and ORDER BY ... LIMIT; out-of-domain ones (hospital, airline) add what training never shows:
joins of four or more tables, GROUP BY ... HAVING, subqueries (correlated, NOT EXISTS, NOT IN), window
functions for the top row per group, and date arithmetic.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tooluse_envs.domain import format_result
from tooluse_envs.domains.sql_databases import FIRST, LAST, query_rows

SUFFIX = {
    "rows": " List all of them, separated by commas, in any order.",
    "ordered": " List them in that order, separated by commas.",
    "number": "",
    "state": " Make the change with run_sql, then reply \\boxed{done}.",
}


class Raw(str):
    """A parameter value pasted into SQL as is (a column name), not quoted as a string literal."""


@dataclass(frozen=True)
class Template:
    """One question shape: its wording, its SQL, and the choices for each ``{param}`` in both."""

    name: str
    db: str
    question: str
    sql: tuple[str, ...]
    params: dict[str, Sequence[Any] | str] = field(default_factory=dict)
    kind: str = "rows"  # rows | number | state
    ordered: bool = False
    check: str = ""  # state tasks: the query whose rows verify the final database

    def draw(self, rng: random.Random) -> Draft:
        """Pick one value per parameter and fill in the question, the statements and the check."""
        values = {key: rng.choice(choices(self.db, spec)) for key, spec in self.params.items()}
        shown = {key: display(v) for key, v in values.items()}
        quoted = {key: literal(v) for key, v in values.items()}
        suffix = SUFFIX["ordered" if self.ordered else self.kind]
        return Draft(
            self,
            self.question.format(**shown) + suffix,
            tuple(statement.format(**quoted) for statement in self.sql),
            self.check.format(**quoted),
        )


@dataclass(frozen=True)
class Draft:
    """A template with its parameters filled in, before the generator runs it."""

    template: Template
    question: str
    statements: tuple[str, ...]
    check: str


def choices(db: str, spec: Sequence[Any] | str) -> Sequence[Any]:
    """A parameter's choices: a fixed sequence, or the rows of a query on the template's database."""
    return query_rows(db, spec) if isinstance(spec, str) else spec


def display(value: Any) -> Any:
    """A value as the question shows it (tuples stay tuples, so ``{pair[0]}`` works)."""
    if isinstance(value, tuple):
        return tuple(display(v) for v in value)
    return value if isinstance(value, str) else format_result(value)


def literal(value: Any) -> Any:
    """A value as SQL reads it: strings quoted, numbers as written, Raw pasted."""
    if isinstance(value, tuple):
        return tuple(literal(v) for v in value)
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return format_result(value)


def A(
    name: str, db: str, question: str, sql: str, kind: str = "rows", ordered: bool = False, **params: Any
) -> Template:
    """An answer template (read-only database): ``kind`` "rows" or "number"."""
    return Template(name, db, question, (sql,), params, kind, ordered)


def S(name: str, db: str, question: str, sql: str | tuple[str, ...], check: str, **params: Any) -> Template:
    """A state template: the statements change the database, the check query verifies it."""
    return Template(name, db, question, (sql,) if isinstance(sql, str) else sql, params, "state", False, check)


YEARS = range(1975, 2024)
NEW_PEOPLE = tuple((f"{f} {s}", f"{f.lower()}.{s.lower()}@mail.example") for f in FIRST[::3] for s in LAST[::4])
MONTHS = tuple((date(y, m, 1).strftime("%B %Y"), f"{y}-{m:02d}") for y in range(2021, 2025) for m in range(1, 13))
BOOK_GENRE = "FROM books b JOIN genres g ON g.genre_id = b.genre_id"
BOOKSTORE = [
    A("cheap_in_genre", "bookstore", "Which {genre} books cost less than ${price}? Give their titles.",
      f"SELECT b.title {BOOK_GENRE} WHERE g.name = {{genre}} AND b.price < {{price}}",
      genre="SELECT name FROM genres", price=range(8, 46)),
    A("author_book_count", "bookstore", "How many books by {author} published after {year} does the store carry?",
      "SELECT COUNT(*) FROM books b JOIN authors a ON a.author_id = b.author_id "
      "WHERE a.name = {author} AND b.published_year > {year}",
      kind="number", author="SELECT name FROM authors", year=YEARS),
    A("genre_average", "bookstore",
      "What is the average {metric[0]} of {genre} books published in the {decade}s? Round to 2 decimals.",
      f"SELECT ROUND(AVG(b.{{metric[1]}}), 2) {BOOK_GENRE} WHERE g.name = {{genre}} "
      "AND b.published_year BETWEEN {decade} AND {decade} + 9",
      kind="number", metric=(("price", Raw("price")), ("page count", Raw("pages"))),
      genre="SELECT name FROM genres", decade=range(1970, 2030, 10)),
    A("city_customers", "bookstore", "Which customers from {city} joined in {year} or later? Give their names.",
      "SELECT name FROM customers WHERE city = {city} AND joined_year >= {year}",
      city="SELECT DISTINCT city FROM customers", year=range(2015, 2025)),
    A("most_expensive", "bookstore",
      "List the {n} most expensive {genre} books published after {year}, most expensive first (break ties by title).",
      f"SELECT b.title {BOOK_GENRE} WHERE g.name = {{genre}} AND b.published_year > {{year}} "
      "ORDER BY b.price DESC, b.title LIMIT {n}",
      ordered=True, n=(3, 4, 5), genre="SELECT name FROM genres", year=range(1975, 2015)),
    A("book_revenue", "bookstore",
      "How much revenue (quantity times unit price) did '{title}' bring in from {status} orders?",
      "SELECT ROUND(SUM(i.quantity * i.unit_price), 2) FROM order_items i JOIN orders o ON o.order_id = i.order_id "
      "JOIN books b ON b.book_id = i.book_id WHERE b.title = {title} AND o.status = {status}",
      kind="number", title="SELECT title FROM books", status=("delivered", "shipped", "pending", "cancelled")),
    A("customer_orders", "bookstore", "How many orders did {customer} place in {year}?",
      "SELECT COUNT(*) FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
      "WHERE c.name = {customer} AND strftime('%Y', o.order_date) = '{year}'",
      kind="number", customer="SELECT name FROM customers", year=range(2021, 2025)),
    A("country_authors", "bookstore", "Which authors from {country} were born before {year}?",
      "SELECT name FROM authors WHERE country = {country} AND birth_year < {year}",
      country="SELECT DISTINCT country FROM authors", year=range(1935, 1996)),
    A("low_stock", "bookstore", "Which {genre} books have fewer than {n} copies in stock? Give their titles.",
      f"SELECT b.title {BOOK_GENRE} WHERE g.name = {{genre}} AND b.stock < {{n}}",
      genre="SELECT name FROM genres", n=range(3, 40)),
    A("copies_sold", "bookstore", "How many copies of '{title}' were sold in {year}, not counting cancelled orders?",
      "SELECT SUM(i.quantity) FROM order_items i JOIN orders o ON o.order_id = i.order_id "
      "JOIN books b ON b.book_id = i.book_id WHERE b.title = {title} AND o.status <> 'cancelled' "
      "AND o.order_date LIKE '{year}-%'",
      kind="number", title="SELECT title FROM books", year=range(2021, 2025)),
    A("monthly_customers", "bookstore", "Which customers placed an order in {month[0]} that is now {status}?",
      "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
      "WHERE o.order_date LIKE {month[1]} || '-%' AND o.status = {status}",
      status=("delivered", "shipped", "pending", "cancelled"), month=MONTHS),
    S("price_increase", "bookstore", "Raise the price of every {genre} book published before {year} by ${amount}.",
      "UPDATE books SET price = price + {amount} WHERE published_year < {year} "
      "AND genre_id = (SELECT genre_id FROM genres WHERE name = {genre})",
      "SELECT book_id, ROUND(price, 2) FROM books",
      genre="SELECT name FROM genres", year=range(1980, 2024), amount=(0.5, 1, 1.5, 2, 2.5, 3, 4, 5)),
    S("restock", "bookstore", "Set the stock of '{title}' to {n} copies.",
      "UPDATE books SET stock = {n} WHERE title = {title}", "SELECT book_id, stock FROM books",
      title="SELECT title FROM books", n=range(0, 100)),
    S("new_customer", "bookstore",
      "Add a new customer named {person[0]} from {city} with email {person[1]} who joined in {year}.",
      "INSERT INTO customers (name, city, email, joined_year) VALUES ({person[0]}, {city}, {person[1]}, {year})",
      "SELECT (SELECT COUNT(*) FROM customers), name, city, email, joined_year FROM customers "
      "WHERE email = {person[1]}",
      person=NEW_PEOPLE, city="SELECT DISTINCT city FROM customers", year=(2024, 2025)),
    S("drop_orders", "bookstore", "Delete every {who[1]} order of {who[0]}, together with its order items.",
      ("DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE status = {who[1]} "
       "AND customer_id = (SELECT customer_id FROM customers WHERE name = {who[0]}))",
       "DELETE FROM orders WHERE status = {who[1]} "
       "AND customer_id = (SELECT customer_id FROM customers WHERE name = {who[0]})"),
      "SELECT o.order_id, COUNT(i.book_id) FROM orders o LEFT JOIN order_items i ON i.order_id = o.order_id "
      "GROUP BY o.order_id",
      who="SELECT DISTINCT c.name, o.status FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
      "WHERE o.status IN ('cancelled', 'pending')"),
]

FULL_NAME = "e.first_name || ' ' || e.last_name"
EMP_DEPT = "FROM employees e JOIN departments d ON d.dept_id = e.dept_id"
TITLES = ("Manager", "Senior Analyst", "Analyst", "Associate", "Specialist", "Intern")
SALARIES = range(40_000, 190_000, 5_000)
ROLES = ("lead", "developer", "analyst", "reviewer", "consultant")
COMPANY = [
    A("dept_high_earners", "company",
      "Which employees in the {dept} department earn more than ${salary}? Give their full names.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.salary > {{salary}}",
      dept="SELECT name FROM departments", salary=SALARIES),
    A("hired_since", "company", "How many {title}s in the {dept} department were hired in {year} or later?",
      f"SELECT COUNT(*) {EMP_DEPT} WHERE d.name = {{dept}} AND e.job_title = {{title}} AND e.hire_date >= '{{year}}'",
      kind="number", title=TITLES, dept="SELECT name FROM departments", year=range(2008, 2025)),
    A("average_salary", "company",
      "What is the average salary of {title}s in the {dept} department hired before {year}? Round to 2 decimals.",
      f"SELECT ROUND(AVG(e.salary), 2) {EMP_DEPT} WHERE d.name = {{dept}} AND e.job_title = {{title}} "
      "AND e.hire_date < '{year}'",
      kind="number", title=TITLES, dept="SELECT name FROM departments", year=range(2010, 2025)),
    A("direct_reports", "company",
      "Who reports directly to {boss[0]} {boss[1]} and was hired in {year} or later? Give full names.",
      f"SELECT {FULL_NAME} FROM employees e JOIN employees m ON m.emp_id = e.manager_id "
      "WHERE m.first_name = {boss[0]} AND m.last_name = {boss[1]} AND e.hire_date >= '{year}'",
      boss="SELECT first_name, last_name FROM employees WHERE job_title IN ('Director', 'Manager')",
      year=range(2008, 2024)),
    A("top_paid", "company",
      "List the {n} highest-paid employees of the {dept} department hired before {year}, highest salary first "
      "(break ties by last name, then first name). Give full names.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.hire_date < '{{year}}' "
      "ORDER BY e.salary DESC, e.last_name, e.first_name LIMIT {n}",
      ordered=True, n=(3, 4, 5), dept="SELECT name FROM departments", year=range(2012, 2025)),
    A("project_members", "company", "Which employees work on the project '{project}' as {role}? Give full names.",
      "SELECT e.first_name || ' ' || e.last_name FROM employees e JOIN assignments a ON a.emp_id = e.emp_id "
      "JOIN projects p ON p.project_id = a.project_id WHERE p.name = {project} AND a.role = {role}",
      project="SELECT name FROM projects", role=ROLES),
    A("project_hours", "company", "How many hours in total have {role}s logged on the project '{project}'?",
      "SELECT SUM(a.hours) FROM assignments a JOIN projects p ON p.project_id = a.project_id "
      "WHERE p.name = {project} AND a.role = {role}",
      kind="number", project="SELECT name FROM projects", role=ROLES),
    A("hired_in_year", "company", "Which {title}s were hired in {year}? Give their full names.",
      f"SELECT {FULL_NAME} FROM employees e WHERE e.job_title = {{title}} AND e.hire_date LIKE '{{year}}-%'",
      title=TITLES, year=range(2008, 2025)),
    A("dept_projects", "company",
      "Which projects of the {dept} department started in {year} or later with a budget of at least ${budget}?",
      "SELECT p.name FROM projects p JOIN departments d ON d.dept_id = p.dept_id "
      "WHERE d.name = {dept} AND p.start_date >= '{year}' AND p.budget >= {budget}",
      dept="SELECT name FROM departments", year=range(2019, 2025), budget=range(50_000, 600_000, 50_000)),
    A("salary_bill", "company",
      "What is the total yearly salary of the {dept} department's employees hired before {year}?",
      f"SELECT SUM(e.salary) {EMP_DEPT} WHERE d.name = {{dept}} AND e.hire_date < '{{year}}'",
      kind="number", dept="SELECT name FROM departments", year=range(2009, 2025)),
    A("first_hired", "company",
      "Who was the first {title} hired in the {dept} department in {year} or later? Give the full name.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.job_title = {{title}} "
      "AND e.hire_date >= '{year}' ORDER BY e.hire_date LIMIT 1",
      title=TITLES, dept="SELECT name FROM departments", year=range(2008, 2025)),
    S("raise", "company", "Give every {title} in the {dept} department a raise of ${amount} per year.",
      "UPDATE employees SET salary = salary + {amount} WHERE job_title = {title} "
      "AND dept_id = (SELECT dept_id FROM departments WHERE name = {dept})",
      "SELECT emp_id, salary FROM employees",
      title=TITLES, dept="SELECT name FROM departments", amount=range(1000, 6000, 500)),
    S("transfer", "company", "Move {emp[0]} {emp[1]} to the {dept} department.",
      "UPDATE employees SET dept_id = (SELECT dept_id FROM departments WHERE name = {dept}) "
      "WHERE first_name = {emp[0]} AND last_name = {emp[1]}",
      "SELECT emp_id, dept_id FROM employees",
      emp="SELECT first_name, last_name FROM employees WHERE job_title <> 'Director'",
      dept="SELECT name FROM departments"),
    S("assign", "company",
      "Assign {emp[0]} {emp[1]} to the project '{project}' as a {role} with {hours} hours.",
      "INSERT INTO assignments (emp_id, project_id, role, hours) VALUES ((SELECT emp_id FROM employees "
      "WHERE first_name = {emp[0]} AND last_name = {emp[1]}), (SELECT project_id FROM projects WHERE name = "
      "{project}), {role}, {hours})",
      "SELECT (SELECT COUNT(*) FROM assignments), p.name, a.role, a.hours FROM assignments a "
      "JOIN projects p ON p.project_id = a.project_id JOIN employees e ON e.emp_id = a.emp_id "
      "WHERE e.first_name = {emp[0]} AND e.last_name = {emp[1]}",
      emp="SELECT first_name, last_name FROM employees", project="SELECT name FROM projects", role=ROLES,
      hours=range(10, 200, 10)),
    S("drop_assignments", "company", "Remove the assignments to the project '{project}' with fewer than {hours} hours.",
      "DELETE FROM assignments WHERE hours < {hours} "
      "AND project_id = (SELECT project_id FROM projects WHERE name = {project})",
      "SELECT project_id, COUNT(*), SUM(hours), SUM(emp_id) FROM assignments GROUP BY project_id",
      project="SELECT name FROM projects", hours=range(50, 400, 10)),
]

ENROLLED = "FROM enrollments e JOIN students s ON s.student_id = e.student_id JOIN courses c USING (course_id)"
COURSE = "SELECT title FROM courses"
TERM = ("2023-fall", "2024-spring", "2024-fall")
HOUSES = ("Oak", "Maple", "Cedar", "Pine")
SCHOOL = [
    A("top_scorers", "school", "Which students scored at least {score} in {course} in the {term} term?",
      f"SELECT s.name {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} AND e.grade >= {{score}}",
      course=COURSE, term=TERM, score=range(75, 100)),
    A("course_average", "school",
      "What was the average grade of grade-{level} students in {course} in the {term} term? Round to 2 decimals.",
      f"SELECT ROUND(AVG(e.grade), 2) {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} "
      "AND s.grade_level = {level}",
      kind="number", level=(9, 10, 11, 12), course=COURSE, term=TERM),
    A("student_courses", "school", "Which courses did {student} take in the {term} term? Give the course titles.",
      f"SELECT c.title {ENROLLED} WHERE s.name = {{student}} AND e.term = {{term}}",
      student="SELECT name FROM students", term=TERM),
    A("low_scorers_in_subject", "school",
      "Which students scored below {score} in a {subject} course in the {term} term?",
      f"SELECT DISTINCT s.name {ENROLLED} WHERE c.subject = {{subject}} AND e.term = {{term}} AND e.grade < {{score}}",
      subject="SELECT DISTINCT subject FROM courses", term=TERM, score=range(50, 80)),
    A("course_ranking", "school",
      "List the {n} students with the highest grades in {course} in the {term} term, best first "
      "(break ties by name).",
      f"SELECT s.name {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} "
      "ORDER BY e.grade DESC, s.name LIMIT {n}",
      ordered=True, n=(3, 4, 5), course=COURSE, term=TERM),
    A("house_enrollment", "school",
      "How many grade-{level} students of {house} house were enrolled in {course} in the {term} term?",
      f"SELECT COUNT(*) {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} AND s.grade_level = {{level}} "
      "AND s.house = {house}",
      kind="number", level=(9, 10, 11, 12), house=HOUSES, course=COURSE, term=TERM),
    A("student_subjects", "school", "Which subjects did {student} study in the {term} term?",
      f"SELECT DISTINCT c.subject {ENROLLED} WHERE s.name = {{student}} AND e.term = {{term}}",
      student="SELECT name FROM students", term=TERM),
    A("subject_best", "school",
      "What was the highest grade in {subject} courses in the {term} term among students of {house} house?",
      f"SELECT MAX(e.grade) {ENROLLED} WHERE c.subject = {{subject}} AND e.term = {{term}} AND s.house = {{house}}",
      kind="number", subject="SELECT DISTINCT subject FROM courses", term=TERM, house=HOUSES),
    A("credits_earned", "school",
      "How many credits did {student} earn in the {term} term, counting only courses with a grade of at least 60?",
      f"SELECT SUM(c.credits) {ENROLLED} WHERE s.name = {{student}} AND e.term = {{term}} AND e.grade >= 60",
      kind="number", student="SELECT name FROM students", term=TERM),
    S("record_grade", "school", "Record a grade of {grade} for {student} in {course} for the {term} term.",
      "INSERT INTO enrollments (student_id, course_id, term, grade) VALUES ((SELECT student_id FROM students "
      "WHERE name = {student}), (SELECT course_id FROM courses WHERE title = {course}), {term}, {grade})",
      f"SELECT (SELECT COUNT(*) FROM enrollments), c.title, e.term, e.grade {ENROLLED} WHERE s.name = {{student}}",
      grade=range(40, 101), student="SELECT name FROM students", course=COURSE, term=TERM),
    S("curve", "school",
      "Add {points} points to every grade in {course} for the {term} term, capping grades at 100.",
      "UPDATE enrollments SET grade = MIN(100, grade + {points}) WHERE term = {term} "
      "AND course_id = (SELECT course_id FROM courses WHERE title = {course})",
      "SELECT course_id, term, COUNT(*), SUM(grade), SUM(student_id) FROM enrollments GROUP BY course_id, term",
      points=range(2, 11), course=COURSE, term=TERM),
    S("unenroll", "school", "Remove {pair[0]} from {pair[1]} for the {pair[2]} term.",
      "DELETE FROM enrollments WHERE term = {pair[2]} AND student_id = (SELECT student_id FROM students "
      "WHERE name = {pair[0]}) AND course_id = (SELECT course_id FROM courses WHERE title = {pair[1]})",
      "SELECT course_id, term, COUNT(*), SUM(grade), SUM(student_id) FROM enrollments GROUP BY course_id, term",
      pair=f"SELECT s.name, c.title, e.term {ENROLLED}"),
    S("room_change", "school", "Move the course {course} to room {room}.",
      "UPDATE courses SET room = {room} WHERE title = {course}", "SELECT course_id, room FROM courses",
      course=COURSE, room=tuple(f"{wing}{n}" for wing in "ABCD" for n in range(101, 131))),
]

STAY = "julianday(a.discharged_on) - julianday(a.admitted_on)"
PATIENT_STAYS = "FROM admissions a JOIN patients p ON p.patient_id = a.patient_id"
DIAGNOSIS = "SELECT DISTINCT diagnosis FROM admissions"
HOSPITAL = [
    A("specialty_drug_patients", "hospital",
      "Which patients treated by a {specialty} doctor were prescribed {drug}? Give patient names.",
      f"SELECT DISTINCT p.name {PATIENT_STAYS} JOIN doctors d ON d.doctor_id = a.doctor_id "
      "JOIN prescriptions r ON r.admission_id = a.admission_id WHERE d.specialty = {specialty} AND r.drug = {drug}",
      specialty="SELECT DISTINCT specialty FROM doctors", drug="SELECT DISTINCT drug FROM prescriptions"),
    A("busy_doctors", "hospital", "Which doctors had at least {n} admissions of patients born before {year}?",
      f"SELECT d.name {PATIENT_STAYS} JOIN doctors d ON d.doctor_id = a.doctor_id WHERE p.birth_year < {{year}} "
      "GROUP BY d.doctor_id HAVING COUNT(*) >= {n}",
      n=range(3, 12), year=range(1940, 2020, 5)),
    A("long_stays", "hospital",
      "Which patients admitted in {year} with {diagnosis} stayed longer than the average stay of all {diagnosis} "
      "admissions? A stay is the days from admitted_on to discharged_on; ignore admissions still open.",
      f"SELECT DISTINCT p.name {PATIENT_STAYS} WHERE a.diagnosis = {{diagnosis}} AND a.admitted_on LIKE '{{year}}-%' "
      f"AND {STAY} > (SELECT AVG({STAY}) FROM admissions a WHERE a.diagnosis = {{diagnosis}})",
      year=(2022, 2023, 2024), diagnosis=DIAGNOSIS),
    A("doctors_without_city", "hospital", "Which {specialty} doctors never treated a patient from {city}?",
      "SELECT d.name FROM doctors d WHERE d.specialty = {specialty} AND NOT EXISTS (SELECT 1 "
      f"{PATIENT_STAYS} WHERE a.doctor_id = d.doctor_id AND p.city = {{city}})",
      specialty="SELECT DISTINCT specialty FROM doctors WHERE ward_id IS NOT NULL",
      city="SELECT DISTINCT city FROM patients"),
    A("longest_stay_per_ward", "hospital",
      "For each ward on floor {floor}, which {sex[0]} patient admitted in {year} had the longest completed stay "
      "(break ties by patient name)?",
      f"SELECT name FROM (SELECT p.name, ROW_NUMBER() OVER (PARTITION BY a.ward_id ORDER BY {STAY} DESC, p.name) "
      f"AS pos {PATIENT_STAYS} JOIN wards w ON w.ward_id = a.ward_id WHERE w.floor = {{floor}} AND p.sex = {{sex[1]}} "
      "AND a.admitted_on LIKE '{year}-%' AND a.discharged_on IS NOT NULL) WHERE pos = 1",
      floor=(1, 2, 3, 4), sex=(("female", "F"), ("male", "M")), year=(2022, 2023, 2024)),
    A("average_stay", "hospital",
      "What was the average stay, in days, of {diagnosis} admissions to the {ward} ward? Ignore admissions still "
      "open and round to 2 decimals.",
      f"SELECT ROUND(AVG({STAY}), 2) FROM admissions a JOIN wards w ON w.ward_id = a.ward_id "
      "WHERE w.name = {ward} AND a.diagnosis = {diagnosis} AND a.discharged_on IS NOT NULL",
      kind="number", ward="SELECT name FROM wards", diagnosis=DIAGNOSIS),
    A("patients_on_drug", "hospital", "How many different patients from {city} were prescribed {drug}?",
      f"SELECT COUNT(DISTINCT p.patient_id) {PATIENT_STAYS} JOIN prescriptions r ON r.admission_id = a.admission_id "
      "WHERE p.city = {city} AND r.drug = {drug}",
      kind="number", city="SELECT DISTINCT city FROM patients", drug="SELECT DISTINCT drug FROM prescriptions"),
    A("busiest_wards", "hospital",
      "List the {n} wards with the most admissions of patients born before {year}, most first "
      "(break ties by ward name).",
      f"SELECT w.name {PATIENT_STAYS} JOIN wards w ON w.ward_id = a.ward_id WHERE p.birth_year < {{year}} "
      "GROUP BY w.ward_id ORDER BY COUNT(*) DESC, w.name LIMIT {n}",
      ordered=True, n=(3, 4), year=range(1940, 2020, 5)),
    S("discharge", "hospital", "Discharge every patient of {doctor} who is still admitted, on {day}.",
      "UPDATE admissions SET discharged_on = {day} WHERE discharged_on IS NULL "
      "AND doctor_id = (SELECT doctor_id FROM doctors WHERE name = {doctor})",
      "SELECT admission_id, discharged_on FROM admissions WHERE discharged_on IS NULL OR discharged_on >= '2025'",
      doctor="SELECT DISTINCT d.name FROM doctors d JOIN admissions a USING (doctor_id) "
      "WHERE a.discharged_on IS NULL", day=tuple(f"2025-01-{d:02d}" for d in range(1, 29))),
    S("halve_dose", "hospital",
      "Halve the dose of {drug} (rounding down to whole mg) in every prescription for admissions to the {ward} ward.",
      "UPDATE prescriptions SET dose_mg = dose_mg / 2 WHERE drug = {drug} AND admission_id IN "
      "(SELECT a.admission_id FROM admissions a JOIN wards w ON w.ward_id = a.ward_id WHERE w.name = {ward})",
      "SELECT drug, COUNT(*), SUM(dose_mg), SUM(dose_mg * prescription_id) FROM prescriptions GROUP BY drug",
      drug="SELECT DISTINCT drug FROM prescriptions", ward="SELECT name FROM wards"),
]

TRIPS = ("FROM bookings b JOIN passengers p ON p.passenger_id = b.passenger_id "
         "JOIN flights f ON f.flight_id = b.flight_id")
ENDS = "JOIN airports o ON o.code = f.origin JOIN airports t ON t.code = f.destination"
TIERS = ("none", "silver", "gold", "platinum")
AIRLINE = [
    A("route_passengers", "airline", "Which passengers flew from {route[0]} to {route[1]}?",
      f"SELECT DISTINCT p.name {TRIPS} {ENDS} WHERE o.city = {{route[0]}} AND t.city = {{route[1]}}",
      route=f"SELECT DISTINCT o.city, t.city FROM flights f {ENDS}"),
    A("big_spenders", "airline",
      "Which passengers with frequent-flyer tier '{tier}' spent more than ${amount} on bookings in total?",
      f"SELECT p.name {TRIPS} WHERE p.tier = {{tier}} GROUP BY p.passenger_id HAVING SUM(b.price) > {{amount}}",
      tier=TIERS, amount=range(1000, 8000, 250)),
    A("longer_than_average", "airline",
      "Which flights departing from {city} take longer than the average flight departing from {city}? "
      "Give flight numbers.",
      f"SELECT f.flight_no FROM flights f {ENDS} WHERE o.city = {{city}} AND f.duration_min > "
      "(SELECT AVG(f2.duration_min) FROM flights f2 JOIN airports o2 ON o2.code = f2.origin WHERE o2.city = {city})",
      city="SELECT city FROM airports"),
    A("model_revenue", "airline",
      "What was the total revenue from {fare} bookings on flights flown with {model} aircraft? Round to 2 decimals.",
      "SELECT ROUND(SUM(b.price), 2) FROM bookings b JOIN flights f ON f.flight_id = b.flight_id "
      "JOIN aircraft c ON c.aircraft_id = f.aircraft_id WHERE b.fare_class = {fare} AND c.model = {model}",
      kind="number", fare=("economy", "premium", "business"), model="SELECT DISTINCT model FROM aircraft"),
    A("top_fare_per_class", "airline",
      "On flights departing from {city}, who paid the highest price in each fare class (break ties by name)?",
      "SELECT name FROM (SELECT p.name, ROW_NUMBER() OVER (PARTITION BY b.fare_class ORDER BY b.price DESC, "
      f"p.name) AS pos {TRIPS} {ENDS} WHERE o.city = {{city}}) WHERE pos = 1",
      city="SELECT city FROM airports"),
    A("well_travelled", "airline",
      "Which passengers from {nationality} booked flights to at least {n} different countries?",
      f"SELECT p.name {TRIPS} {ENDS} WHERE p.nationality = {{nationality}} GROUP BY p.passenger_id "
      "HAVING COUNT(DISTINCT t.country) >= {n}",
      nationality="SELECT DISTINCT nationality FROM passengers", n=(2, 3, 4, 5)),
    A("free_seats", "airline", "How many seats were left unbooked on flight {no}?",
      "SELECT c.seats - (SELECT COUNT(*) FROM bookings b WHERE b.flight_id = f.flight_id) FROM flights f "
      "JOIN aircraft c ON c.aircraft_id = f.aircraft_id WHERE f.flight_no = {no}",
      kind="number", no="SELECT flight_no FROM flights"),
    A("models_never_to", "airline", "Which aircraft models never flew into {city}?",
      "SELECT DISTINCT c.model FROM aircraft c WHERE c.model NOT IN (SELECT c2.model FROM flights f "
      "JOIN aircraft c2 ON c2.aircraft_id = f.aircraft_id JOIN airports t ON t.code = f.destination "
      "WHERE t.city = {city})",
      city="SELECT city FROM airports"),
    S("cancel_bookings", "airline", "Delete the bookings of {passenger} on flights departing on or after {day}.",
      "DELETE FROM bookings WHERE passenger_id = (SELECT passenger_id FROM passengers WHERE name = {passenger}) "
      "AND flight_id IN (SELECT flight_id FROM flights WHERE departs_at >= {day})",
      "SELECT COUNT(*), SUM(booking_id), SUM(booking_id * booking_id) FROM bookings",
      passenger="SELECT name FROM passengers", day=tuple(f"2024-{m:02d}-01" for m in range(2, 13))),
    S("upgrade", "airline", "Upgrade every economy booking on flight {no} to premium and add ${amount} to its price.",
      "UPDATE bookings SET fare_class = 'premium', price = price + {amount} WHERE fare_class = 'economy' "
      "AND flight_id = (SELECT flight_id FROM flights WHERE flight_no = {no})",
      "SELECT fare_class, COUNT(*), ROUND(SUM(price), 2), SUM(booking_id) FROM bookings GROUP BY fare_class",
      no="SELECT DISTINCT f.flight_no FROM flights f JOIN bookings b USING (flight_id) WHERE b.fare_class = 'economy'",
      amount=range(50, 400, 25)),
]

ID_TEMPLATES: tuple[Template, ...] = tuple(BOOKSTORE + COMPANY + SCHOOL)
OOD_TEMPLATES: tuple[Template, ...] = tuple(HOSPITAL + AIRLINE)
