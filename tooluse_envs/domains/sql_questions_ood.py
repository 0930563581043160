"""Out-of-domain question templates of the SQL domain, one set per axis of test_ood.

``UNSEEN_DATABASE``: the hospital and airline databases, which training never shows, asked the kinds of
question training does ask (filters, joins of at most three tables, simple aggregates, ORDER BY ... LIMIT,
the same kinds of change). ``UNSEEN_TEMPLATE``: the training databases (bookstore, company, school) asked
with SQL constructs training never uses: GROUP BY ... HAVING, subqueries that compare with an aggregate,
NOT EXISTS, and window functions for the top row per group.
"""

from __future__ import annotations

from tooluse_envs.domains.sql_questions import (
    BOOK_GENRE,
    EMP_DEPT,
    ENROLLED,
    FULL_NAME,
    HOUSES,
    MONTHS,
    STATUSES,
    TERM,
    TITLES,
)
from tooluse_envs.domains.sql_template import ROUND2, A, S, Template

STAYS = "FROM admissions a JOIN patients p ON p.patient_id = a.patient_id"
DIAGNOSIS = "SELECT DISTINCT diagnosis FROM admissions"
DRUG = "SELECT DISTINCT drug FROM prescriptions"
WARD = "SELECT name FROM wards"
TREATING = "SELECT name FROM doctors WHERE ward_id IS NOT NULL"
ADMITTED = (2022, 2023, 2024)
HOSPITAL = [
    A("ward_diagnosis_patients", "hospital",
      "Which patients were admitted to the {ward} ward with {diagnosis}? Give their names.",
      f"SELECT DISTINCT p.name {STAYS} JOIN wards w ON w.ward_id = a.ward_id "
      "WHERE w.name = {ward} AND a.diagnosis = {diagnosis}",
      ward=WARD, diagnosis=DIAGNOSIS),
    A("doctor_admissions", "hospital", "How many admissions did {doctor} handle in {year}?",
      "SELECT COUNT(*) FROM admissions a JOIN doctors d ON d.doctor_id = a.doctor_id "
      "WHERE d.name = {doctor} AND a.admitted_on LIKE '{year}-%'",
      kind="number", fetch="a.admission_id", doctor=TREATING, year=ADMITTED),
    A("drug_total_mg", "hospital",
      "How many milligrams of {drug} were prescribed in total for {diagnosis} admissions, counting each "
      "prescription's daily dose times its number of days?",
      "SELECT SUM(r.dose_mg * r.days) FROM prescriptions r JOIN admissions a ON a.admission_id = r.admission_id "
      "WHERE r.drug = {drug} AND a.diagnosis = {diagnosis}",
      kind="number", fetch="r.dose_mg * r.days", drug=DRUG, diagnosis=DIAGNOSIS),
    A("city_patients", "hospital", "Which patients from {city} were born before {year}?",
      "SELECT name FROM patients WHERE city = {city} AND birth_year < {year}",
      city="SELECT DISTINCT city FROM patients", year=range(1940, 2021)),
    A("oldest_patients", "hospital",
      "List the {n} earliest-born patients from {city}, earliest first (break ties by name).",
      "SELECT name FROM patients WHERE city = {city} ORDER BY birth_year, name LIMIT {n}",
      ordered=True, n=(3, 4, 5), city="SELECT DISTINCT city FROM patients"),
    A("ward_average_dose", "hospital",
      "What is the average dose in mg of {drug} prescriptions for admissions to the {ward} ward? " + ROUND2,
      "SELECT ROUND(AVG(r.dose_mg), 2) FROM prescriptions r JOIN admissions a ON a.admission_id = r.admission_id "
      "JOIN wards w ON w.ward_id = a.ward_id WHERE r.drug = {drug} AND w.name = {ward}",
      kind="number", fetch="r.dose_mg", decimals=2, drug=DRUG, ward=WARD),
    A("doctor_patients", "hospital", "Which patients of {doctor} were admitted in {year}? Give their names.",
      f"SELECT DISTINCT p.name {STAYS} JOIN doctors d ON d.doctor_id = a.doctor_id "
      "WHERE d.name = {doctor} AND a.admitted_on LIKE '{year}-%'",
      doctor=TREATING, year=ADMITTED),
    A("largest_dose", "hospital",
      "What was the largest dose of {drug}, in mg, prescribed to a patient from {city}?",
      "SELECT MAX(r.dose_mg) FROM prescriptions r JOIN admissions a ON a.admission_id = r.admission_id "
      "JOIN patients p ON p.patient_id = a.patient_id WHERE r.drug = {drug} AND p.city = {city}",
      kind="number", fetch="r.dose_mg", drug=DRUG, city="SELECT DISTINCT city FROM patients"),
    A("first_admission", "hospital",
      "Which patient was the first admitted to the {ward} ward in {year} (if two were admitted on the same day, "
      "the one whose name comes first)? Give the name.",
      f"SELECT p.name {STAYS} JOIN wards w ON w.ward_id = a.ward_id WHERE w.name = {{ward}} "
      "AND a.admitted_on LIKE '{year}-%' ORDER BY a.admitted_on, p.name LIMIT 1",
      answers="one", ward=WARD, year=ADMITTED),
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
      drug=DRUG, ward=WARD),
]

FROM_CITY = "FROM flights f JOIN airports o ON o.code = f.origin"
AIRPORT_CITY = "SELECT city FROM airports"
FARES = ("economy", "premium", "business")
MODEL = "SELECT DISTINCT model FROM aircraft"
AIRLINE = [
    A("model_departures", "airline", "Which flights depart from {city} on {model} aircraft? Give flight numbers.",
      f"SELECT f.flight_no {FROM_CITY} JOIN aircraft c ON c.aircraft_id = f.aircraft_id "
      "WHERE o.city = {city} AND c.model = {model}",
      city=AIRPORT_CITY, model=MODEL),
    A("passenger_bookings", "airline", "How many {fare} bookings has {passenger} made?",
      "SELECT COUNT(*) FROM bookings b JOIN passengers p ON p.passenger_id = b.passenger_id "
      "WHERE p.name = {passenger} AND b.fare_class = {fare}",
      kind="number", fetch="b.booking_id", fare=FARES, passenger="SELECT name FROM passengers"),
    A("tier_nationality", "airline", "Which passengers from {nationality} have the frequent-flyer tier '{tier}'?",
      "SELECT name FROM passengers WHERE nationality = {nationality} AND tier = {tier}",
      nationality="SELECT DISTINCT nationality FROM passengers", tier=("none", "silver", "gold", "platinum")),
    A("flight_revenue", "airline",
      "What is the total price of all bookings on flight {no}? Give the amount to the cent.",
      "SELECT ROUND(SUM(b.price), 2) FROM bookings b JOIN flights f ON f.flight_id = b.flight_id "
      "WHERE f.flight_no = {no}",
      kind="number", fetch="b.price", decimals=2, no="SELECT flight_no FROM flights"),
    A("longest_routes", "airline",
      "List the {n} longest flights by distance departing from {city}, longest first (break ties by flight number). "
      "Give flight numbers.",
      f"SELECT f.flight_no {FROM_CITY} WHERE o.city = {{city}} ORDER BY f.distance_km DESC, f.flight_no LIMIT {{n}}",
      ordered=True, n=(3, 4, 5), city=AIRPORT_CITY),
    A("average_fare", "airline",
      "What is the average price of {fare} bookings on flights departing from {city}? " + ROUND2,
      f"SELECT ROUND(AVG(b.price), 2) {FROM_CITY} JOIN bookings b ON b.flight_id = f.flight_id "
      "WHERE o.city = {city} AND b.fare_class = {fare}",
      kind="number", fetch="b.price", decimals=2, fare=FARES, city=AIRPORT_CITY),
    A("monthly_model_flights", "airline", "How many flights flown with {model} aircraft depart in {month[0]}?",
      "SELECT COUNT(*) FROM flights f JOIN aircraft c ON c.aircraft_id = f.aircraft_id "
      "WHERE c.model = {model} AND f.departs_at LIKE {month[1]} || '-%'",
      kind="number", fetch="f.flight_no", model=MODEL, month=MONTHS[-12:]),
    A("first_departure", "airline",
      "Which flight from {city} is the first to leave on or after {day} (if two leave at the same time, the one "
      "with the lower flight number)? Give the flight number.",
      f"SELECT f.flight_no {FROM_CITY} WHERE o.city = {{city}} AND f.departs_at >= {{day}} "
      "ORDER BY f.departs_at, f.flight_no LIMIT 1",
      answers="one", city=AIRPORT_CITY, day=tuple(f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in (1, 15))),
    A("longest_duration", "airline",
      "What is the longest scheduled duration, in minutes, of a flight from {city} to an airport in {country}?",
      f"SELECT MAX(f.duration_min) {FROM_CITY} JOIN airports t ON t.code = f.destination "
      "WHERE o.city = {city} AND t.country = {country}",
      kind="number", fetch="f.duration_min", city=AIRPORT_CITY, country="SELECT DISTINCT country FROM airports"),
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

GENRE_PAIR = "SELECT a.name, b.name FROM genres a JOIN genres b ON a.genre_id <> b.genre_id"
CITY = "SELECT DISTINCT city FROM customers"
DEPT = "SELECT name FROM departments"
SUBJECT = "SELECT DISTINCT subject FROM courses"
UNSEEN_TEMPLATE = [
    A("prolific_authors", "bookstore", "Which authors have at least {n} books in the store published after {year}?",
      "SELECT a.name FROM authors a JOIN books b ON b.author_id = a.author_id WHERE b.published_year > {year} "
      "GROUP BY a.author_id HAVING COUNT(*) >= {n}",
      n=(2, 3, 4, 5), year=range(1975, 2015)),
    A("pricier_than_genre", "bookstore",
      "Which {pair[0]} books cost more than the average price of {pair[1]} books? Give their titles.",
      f"SELECT b.title {BOOK_GENRE} WHERE g.name = {{pair[0]}} AND b.price > (SELECT AVG(b2.price) FROM books b2 "
      "JOIN genres g2 ON g2.genre_id = b2.genre_id WHERE g2.name = {pair[1]})",
      pair=GENRE_PAIR),
    A("never_status", "bookstore",
      "Which customers from {city} who joined in {year} or later have never had an order with status '{status}'?",
      "SELECT c.name FROM customers c WHERE c.city = {city} AND c.joined_year >= {year} AND NOT EXISTS "
      "(SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.status = {status})",
      city=CITY, year=range(2015, 2023), status=STATUSES),
    A("pricier_than_store", "bookstore",
      "How many {genre} books published after {year} cost more than the average price of all books in the store?",
      f"SELECT COUNT(*) {BOOK_GENRE} WHERE g.name = {{genre}} AND b.published_year > {{year}} "
      "AND b.price > (SELECT AVG(price) FROM books)",
      kind="number", fetch="b.title", genre="SELECT name FROM genres", year=range(1975, 2020)),
    A("frequent_customers", "bookstore", "How many customers from {city} placed at least {n} orders in {year}?",
      "SELECT COUNT(*) FROM (SELECT c.customer_id FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
      "WHERE c.city = {city} AND o.order_date LIKE '{year}-%' GROUP BY c.customer_id HAVING COUNT(*) >= {n})",
      kind="number",
      fetch="SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE c.city = {city} "
      "AND o.order_date LIKE '{year}-%' GROUP BY c.customer_id HAVING COUNT(*) >= {n}",
      city=CITY, n=(1, 2, 3), year=range(2021, 2025)),
    A("most_orders", "bookstore",
      "What is the largest number of orders that a single customer from {city} placed in {year}?",
      "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
      "WHERE c.city = {city} AND o.order_date LIKE '{year}-%' GROUP BY c.customer_id)",
      kind="number",
      fetch="SELECT COUNT(*) FROM customers c JOIN orders o ON o.customer_id = c.customer_id WHERE c.city = {city} "
      "AND o.order_date LIKE '{year}-%' GROUP BY c.customer_id",
      city=CITY, year=range(2021, 2025)),
    S("restock_unsold", "bookstore", "Set the stock of every {genre} book that has never been ordered to {n} copies.",
      "UPDATE books SET stock = {n} WHERE genre_id = (SELECT genre_id FROM genres WHERE name = {genre}) "
      "AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.book_id = books.book_id)",
      "SELECT book_id, stock FROM books",
      genre="SELECT name FROM genres", n=range(0, 100)),
    A("top_paid_per_dept", "company",
      "In each department, who is the highest-paid {title} hired before {year} (break ties by last name, then "
      "first name)? Give full names.",
      f"SELECT name FROM (SELECT {FULL_NAME} AS name, ROW_NUMBER() OVER (PARTITION BY e.dept_id "
      "ORDER BY e.salary DESC, e.last_name, e.first_name) AS pos FROM employees e WHERE e.job_title = {title} "
      "AND e.hire_date < '{year}') WHERE pos = 1",
      title=TITLES, year=range(2010, 2025)),
    A("big_departments", "company", "Which departments have at least {n} employees hired in {year} or later?",
      f"SELECT d.name {EMP_DEPT} WHERE e.hire_date >= '{{year}}' GROUP BY d.dept_id HAVING COUNT(*) >= {{n}}",
      n=range(3, 15), year=range(2008, 2024)),
    A("unassigned", "company",
      "Which employees of the {dept} department hired in {year} or later are not assigned to any project? "
      "Give full names.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.hire_date >= '{{year}}' AND NOT EXISTS "
      "(SELECT 1 FROM assignments a WHERE a.emp_id = e.emp_id)",
      dept=DEPT, year=range(2008, 2024)),
    A("above_title_average", "company",
      "Which employees of the {dept} department earn more than the average salary of all {title}s in the company? "
      "Give full names.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.salary > "
      "(SELECT AVG(salary) FROM employees WHERE job_title = {title})",
      dept=DEPT, title=TITLES),
    S("raise_below_average", "company",
      "Give every employee of the {dept} department who earns less than that department's average salary a raise "
      "of ${amount} per year.",
      "UPDATE employees SET salary = salary + {amount} WHERE dept_id = (SELECT dept_id FROM departments "
      "WHERE name = {dept}) AND salary < (SELECT AVG(salary) FROM employees WHERE dept_id = "
      "(SELECT dept_id FROM departments WHERE name = {dept}))",
      "SELECT emp_id, salary FROM employees",
      dept=DEPT, amount=range(1000, 6000, 500)),
    A("good_averages", "school",
      "Which grade-{level} students averaged at least {score} over their courses in the {term} term?",
      f"SELECT s.name {ENROLLED} WHERE s.grade_level = {{level}} AND e.term = {{term}} GROUP BY s.student_id "
      "HAVING AVG(e.grade) >= {score}",
      level=(9, 10, 11, 12), term=TERM, score=range(70, 95)),
    A("best_per_course", "school",
      "Among {house} house students, who had the highest grade in each {subject} course in the {term} term "
      "(break ties by name)?",
      f"SELECT name FROM (SELECT s.name, ROW_NUMBER() OVER (PARTITION BY e.course_id ORDER BY e.grade DESC, "
      f"s.name) AS pos {ENROLLED} WHERE c.subject = {{subject}} AND e.term = {{term}} AND s.house = {{house}}) "
      "WHERE pos = 1",
      house=HOUSES, subject=SUBJECT, term=TERM),
    A("skipped_subject", "school",
      "Which grade-{level} students of {house} house took no {subject} course in the {term} term?",
      "SELECT s.name FROM students s WHERE s.grade_level = {level} AND s.house = {house} AND NOT EXISTS "
      "(SELECT 1 FROM enrollments e JOIN courses c USING (course_id) WHERE e.student_id = s.student_id "
      "AND c.subject = {subject} AND e.term = {term})",
      level=(9, 10, 11, 12), house=HOUSES, subject=SUBJECT, term=TERM),
    S("drop_failing", "school",
      "Remove every {term} enrollment of the students whose average grade in the {term} term is below {score}.",
      "DELETE FROM enrollments WHERE term = {term} AND student_id IN (SELECT student_id FROM enrollments "
      "WHERE term = {term} GROUP BY student_id HAVING AVG(grade) < {score})",
      "SELECT student_id, term, COUNT(*), SUM(grade) FROM enrollments GROUP BY student_id, term",
      term=TERM, score=range(55, 75)),
]

UNSEEN_DATABASE_TEMPLATES: tuple[Template, ...] = tuple(HOSPITAL + AIRLINE)
UNSEEN_TEMPLATE_TEMPLATES: tuple[Template, ...] = tuple(UNSEEN_TEMPLATE)
# what the unseen_template axis adds: none of these appears in a train or test_id reference query
UNSEEN_CONSTRUCTS = ("GROUP BY", "HAVING", "NOT EXISTS", " OVER (", "(SELECT AVG(", "(SELECT COUNT(", "(SELECT MAX(")
