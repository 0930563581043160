"""In-domain question templates of the SQL domain (bookstore, company, school), each with a paraphrase.

They join at most three tables and use filters, simple aggregates and ORDER BY ... LIMIT (train and
test_id). Each template also carries the same question in other words, used only by test_ood's
``paraphrase`` axis, so that axis changes the wording and nothing else.
"""

from __future__ import annotations

from datetime import date

from tooluse_envs.domains.sql_databases import FIRST, LAST
from tooluse_envs.domains.sql_template import ROUND2, A, Raw, S, Template

YEARS = range(1975, 2024)
NEW_PEOPLE = tuple((f"{f} {s}", f"{f.lower()}.{s.lower()}@mail.example") for f in FIRST[::3] for s in LAST[::4])
MONTHS = tuple((date(y, m, 1).strftime("%B %Y"), f"{y}-{m:02d}") for y in range(2021, 2025) for m in range(1, 13))
BOOK_GENRE = "FROM books b JOIN genres g ON g.genre_id = b.genre_id"
STATUSES = ("delivered", "shipped", "pending", "cancelled")
BOOKSTORE = [
    A("cheap_in_genre", "bookstore", "Which {genre} books cost less than ${price}? Give their titles.",
      f"SELECT b.title {BOOK_GENRE} WHERE g.name = {{genre}} AND b.price < {{price}}",
      paraphrase="Give the titles of all {genre} books priced under ${price}.",
      genre="SELECT name FROM genres", price=range(8, 46)),
    A("author_book_count", "bookstore", "How many books by {author} published after {year} does the store carry?",
      "SELECT COUNT(*) FROM books b JOIN authors a ON a.author_id = b.author_id "
      "WHERE a.name = {author} AND b.published_year > {year}",
      kind="number", fetch="b.title",
      paraphrase="In the store's catalogue, how many titles by {author} came out later than {year}?",
      author="SELECT name FROM authors", year=YEARS),
    A("genre_average", "bookstore",
      "What is the average {metric[0]} of {genre} books published in the {decade}s? " + ROUND2,
      f"SELECT ROUND(AVG(b.{{metric[1]}}), 2) {BOOK_GENRE} WHERE g.name = {{genre}} "
      "AND b.published_year BETWEEN {decade} AND {decade} + 9",
      kind="number", fetch="b.{metric[1]}", decimals=2,
      paraphrase="Across the {genre} books that came out in the {decade}s, what is the mean {metric[0]}? " + ROUND2,
      metric=(("price", Raw("price")), ("page count", Raw("pages"))),
      genre="SELECT name FROM genres", decade=range(1970, 2030, 10)),
    A("city_customers", "bookstore", "Which customers from {city} joined in {year} or later? Give their names.",
      "SELECT name FROM customers WHERE city = {city} AND joined_year >= {year}",
      paraphrase="Name the customers based in {city} whose membership began in {year} or later.",
      city="SELECT DISTINCT city FROM customers", year=range(2015, 2025)),
    A("most_expensive", "bookstore",
      "List the {n} most expensive {genre} books published after {year}, most expensive first (break ties by title).",
      f"SELECT b.title {BOOK_GENRE} WHERE g.name = {{genre}} AND b.published_year > {{year}} "
      "ORDER BY b.price DESC, b.title LIMIT {n}",
      ordered=True,
      paraphrase="Among {genre} books that came out after {year}, which {n} carry the highest prices? Start with "
      "the priciest (equal prices in title order).",
      n=(3, 4, 5), genre="SELECT name FROM genres", year=range(1975, 2015)),
    A("book_revenue", "bookstore",
      "How much revenue (quantity times unit price) did '{title}' bring in from {status} orders? Give the amount "
      "to the cent.",
      "SELECT ROUND(SUM(i.quantity * i.unit_price), 2) FROM order_items i JOIN orders o ON o.order_id = i.order_id "
      "JOIN books b ON b.book_id = i.book_id WHERE b.title = {title} AND o.status = {status}",
      kind="number", fetch="i.quantity * i.unit_price", decimals=2,
      paraphrase="Counting quantity times unit price, what did the {status} orders of '{title}' earn in total? "
      "Give the amount to the cent.",
      title="SELECT title FROM books", status=STATUSES),
    A("customer_orders", "bookstore", "How many orders did {customer} place in {year}?",
      "SELECT COUNT(*) FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
      "WHERE c.name = {customer} AND strftime('%Y', o.order_date) = '{year}'",
      kind="number", fetch="o.order_id",
      paraphrase="In {year}, what number of orders were placed by {customer}?",
      customer="SELECT name FROM customers", year=range(2021, 2025)),
    A("country_authors", "bookstore", "Which authors from {country} were born before {year}?",
      "SELECT name FROM authors WHERE country = {country} AND birth_year < {year}",
      paraphrase="Name the writers born earlier than {year} who come from {country}.",
      country="SELECT DISTINCT country FROM authors", year=range(1935, 1996)),
    A("low_stock", "bookstore", "Which {genre} books have fewer than {n} copies in stock? Give their titles.",
      f"SELECT b.title {BOOK_GENRE} WHERE g.name = {{genre}} AND b.stock < {{n}}",
      paraphrase="Give the titles of the {genre} books whose stock is below {n} copies.",
      genre="SELECT name FROM genres", n=range(3, 40)),
    A("copies_sold", "bookstore", "How many copies of '{title}' were sold in {year}, not counting cancelled orders?",
      "SELECT SUM(i.quantity) FROM order_items i JOIN orders o ON o.order_id = i.order_id "
      "JOIN books b ON b.book_id = i.book_id WHERE b.title = {title} AND o.status <> 'cancelled' "
      "AND o.order_date LIKE '{year}-%'",
      kind="number", fetch="i.quantity",
      paraphrase="Leaving out cancelled orders, what number of copies of '{title}' did the store sell in {year}?",
      title="SELECT title FROM books", year=range(2021, 2025)),
    A("monthly_customers", "bookstore", "Which customers placed an order in {month[0]} that is now {status}?",
      "SELECT DISTINCT c.name FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
      "WHERE o.order_date LIKE {month[1]} || '-%' AND o.status = {status}",
      paraphrase="Name the customers with an order dated {month[0]} whose status is currently {status}.",
      status=STATUSES, month=MONTHS),
    S("price_increase", "bookstore", "Raise the price of every {genre} book published before {year} by ${amount[0]}.",
      "UPDATE books SET price = price + {amount[1]} WHERE published_year < {year} "
      "AND genre_id = (SELECT genre_id FROM genres WHERE name = {genre})",
      "SELECT book_id, ROUND(price, 2) FROM books",
      paraphrase="Make each {genre} book that came out before {year} ${amount[0]} more expensive.",
      genre="SELECT name FROM genres", year=range(1980, 2024),
      amount=tuple((f"{a:.2f}", Raw(str(a))) for a in (0.5, 1, 1.5, 2, 2.5, 3, 4, 5))),
    S("restock", "bookstore", "Set the stock of '{title}' to {n} copies.",
      "UPDATE books SET stock = {n} WHERE title = {title}", "SELECT book_id, stock FROM books",
      paraphrase="The store now holds {n} copies of '{title}': record that stock level.",
      title="SELECT title FROM books", n=range(0, 100)),
    S("new_customer", "bookstore",
      "Add a new customer named {person[0]} from {city} with email {person[1]} who joined in {year}.",
      "INSERT INTO customers (name, city, email, joined_year) VALUES ({person[0]}, {city}, {person[1]}, {year})",
      "SELECT (SELECT COUNT(*) FROM customers), name, city, email, joined_year FROM customers "
      "WHERE email = {person[1]}",
      paraphrase="Register {person[0]} (email {person[1]}, living in {city}) as a customer who joined in {year}.",
      person=NEW_PEOPLE, city="SELECT DISTINCT city FROM customers", year=(2024, 2025)),
    S("drop_orders", "bookstore", "Delete every {who[1]} order of {who[0]}, together with its order items.",
      ("DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE status = {who[1]} "
       "AND customer_id = (SELECT customer_id FROM customers WHERE name = {who[0]}))",
       "DELETE FROM orders WHERE status = {who[1]} "
       "AND customer_id = (SELECT customer_id FROM customers WHERE name = {who[0]})"),
      "SELECT o.order_id, COUNT(i.book_id) FROM orders o LEFT JOIN order_items i ON i.order_id = o.order_id "
      "GROUP BY o.order_id",
      paraphrase="Remove all orders of {who[0]} whose status is {who[1]}, and their order items too.",
      who="SELECT DISTINCT c.name, o.status FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
      "WHERE o.status IN ('cancelled', 'pending')"),
]

FULL_NAME = "e.first_name || ' ' || e.last_name"
EMP_DEPT = "FROM employees e JOIN departments d ON d.dept_id = e.dept_id"
TITLES = ("Manager", "Senior Analyst", "Analyst", "Associate", "Specialist", "Intern")
SALARIES = range(40_000, 190_000, 5_000)
ROLES = ("lead", "developer", "analyst", "reviewer", "consultant")
SAME_DAY = "(if two were hired on the same day, the one whose last name comes first)"
COMPANY = [
    A("dept_high_earners", "company",
      "Which employees in the {dept} department earn more than ${salary}? Give their full names.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.salary > {{salary}}",
      paraphrase="Give the full names of {dept} department staff paid over ${salary} a year.",
      dept="SELECT name FROM departments", salary=SALARIES),
    A("hired_since", "company", "How many {title}s in the {dept} department were hired in {year} or later?",
      f"SELECT COUNT(*) {EMP_DEPT} WHERE d.name = {{dept}} AND e.job_title = {{title}} AND e.hire_date >= '{{year}}'",
      kind="number", fetch="e.emp_id",
      paraphrase="Since the start of {year}, what number of {title}s has the {dept} department taken on?",
      title=TITLES, dept="SELECT name FROM departments", year=range(2008, 2025)),
    A("average_salary", "company",
      "What is the average salary of {title}s in the {dept} department hired before {year}? " + ROUND2,
      f"SELECT ROUND(AVG(e.salary), 2) {EMP_DEPT} WHERE d.name = {{dept}} AND e.job_title = {{title}} "
      "AND e.hire_date < '{year}'",
      kind="number", fetch="e.salary", decimals=2,
      paraphrase="For the {dept} department's {title}s who joined before {year}, what is their mean salary? " + ROUND2,
      title=TITLES, dept="SELECT name FROM departments", year=range(2010, 2025)),
    A("direct_reports", "company",
      "Who reports directly to {boss[0]} {boss[1]} and was hired in {year} or later? Give full names.",
      f"SELECT {FULL_NAME} FROM employees e JOIN employees m ON m.emp_id = e.manager_id "
      "WHERE m.first_name = {boss[0]} AND m.last_name = {boss[1]} AND e.hire_date >= '{year}'",
      paraphrase="Name (first and last) the people managed directly by {boss[0]} {boss[1]} who joined in {year} "
      "or later.",
      boss="SELECT first_name, last_name FROM employees WHERE job_title IN ('Director', 'Manager')",
      year=range(2008, 2024)),
    A("top_paid", "company",
      "List the {n} highest-paid employees of the {dept} department hired before {year}, highest salary first "
      "(break ties by last name, then first name). Give full names.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.hire_date < '{{year}}' "
      "ORDER BY e.salary DESC, e.last_name, e.first_name LIMIT {n}",
      ordered=True,
      paraphrase="Who are the {n} best-paid {dept} department staff who joined before {year}? Give full names, "
      "top salary first (equal salaries by last name, then first name).",
      n=(3, 4, 5), dept="SELECT name FROM departments", year=range(2012, 2025)),
    A("project_members", "company", "Which employees work on the project '{project}' as {role}? Give full names.",
      "SELECT e.first_name || ' ' || e.last_name FROM employees e JOIN assignments a ON a.emp_id = e.emp_id "
      "JOIN projects p ON p.project_id = a.project_id WHERE p.name = {project} AND a.role = {role}",
      paraphrase="Give the full names of everyone assigned to the project '{project}' in the role of {role}.",
      project="SELECT name FROM projects", role=ROLES),
    A("project_hours", "company", "How many hours in total have {role}s logged on the project '{project}'?",
      "SELECT SUM(a.hours) FROM assignments a JOIN projects p ON p.project_id = a.project_id "
      "WHERE p.name = {project} AND a.role = {role}",
      kind="number", fetch="a.hours",
      paraphrase="What is the combined number of hours that {role}s have put into the project '{project}'?",
      project="SELECT name FROM projects", role=ROLES),
    A("hired_in_year", "company", "Which {title}s were hired in {year}? Give their full names.",
      f"SELECT {FULL_NAME} FROM employees e WHERE e.job_title = {{title}} AND e.hire_date LIKE '{{year}}-%'",
      paraphrase="Give the full names of the {title}s whose hire date falls in {year}.",
      title=TITLES, year=range(2008, 2025)),
    A("dept_projects", "company",
      "Which projects of the {dept} department started in {year} or later with a budget of at least ${budget}?",
      "SELECT p.name FROM projects p JOIN departments d ON d.dept_id = p.dept_id "
      "WHERE d.name = {dept} AND p.start_date >= '{year}' AND p.budget >= {budget}",
      paraphrase="Name the {dept} department's projects that began in {year} or later with ${budget} or more "
      "in budget.",
      dept="SELECT name FROM departments", year=range(2019, 2025), budget=range(50_000, 600_000, 50_000)),
    A("salary_bill", "company",
      "What is the total yearly salary of the {dept} department's employees hired before {year}?",
      f"SELECT SUM(e.salary) {EMP_DEPT} WHERE d.name = {{dept}} AND e.hire_date < '{{year}}'",
      kind="number", fetch="e.salary",
      paraphrase="Adding up their yearly pay, what do the {dept} department's staff who joined before {year} earn "
      "together?",
      dept="SELECT name FROM departments", year=range(2009, 2025)),
    A("first_hired", "company",
      f"Who was the first {{title}} hired in the {{dept}} department in {{year}} or later {SAME_DAY}? "
      "Give the full name.",
      f"SELECT {FULL_NAME} {EMP_DEPT} WHERE d.name = {{dept}} AND e.job_title = {{title}} "
      "AND e.hire_date >= '{year}' ORDER BY e.hire_date, e.last_name, e.first_name LIMIT 1",
      answers="one",
      paraphrase=f"Of the {{dept}} department's {{title}}s who joined in {{year}} or later, who joined earliest "
      f"{SAME_DAY}? Give the full name.",
      title=TITLES, dept="SELECT name FROM departments", year=range(2008, 2025)),
    S("raise", "company", "Give every {title} in the {dept} department a raise of ${amount} per year.",
      "UPDATE employees SET salary = salary + {amount} WHERE job_title = {title} "
      "AND dept_id = (SELECT dept_id FROM departments WHERE name = {dept})",
      "SELECT emp_id, salary FROM employees",
      paraphrase="Increase the yearly salary of each {title} of the {dept} department by ${amount}.",
      title=TITLES, dept="SELECT name FROM departments", amount=range(1000, 6000, 500)),
    S("transfer", "company", "Move {emp[0]} {emp[1]} to the {dept} department.",
      "UPDATE employees SET dept_id = (SELECT dept_id FROM departments WHERE name = {dept}) "
      "WHERE first_name = {emp[0]} AND last_name = {emp[1]}",
      "SELECT emp_id, dept_id FROM employees",
      paraphrase="{emp[0]} {emp[1]} now belongs to the {dept} department: update the records.",
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
      paraphrase="Put {emp[0]} {emp[1]} on the project '{project}' in the role of {role}, logging {hours} hours.",
      emp="SELECT first_name, last_name FROM employees", project="SELECT name FROM projects", role=ROLES,
      hours=range(10, 200, 10)),
    S("drop_assignments", "company", "Remove the assignments to the project '{project}' with fewer than {hours} hours.",
      "DELETE FROM assignments WHERE hours < {hours} "
      "AND project_id = (SELECT project_id FROM projects WHERE name = {project})",
      "SELECT project_id, COUNT(*), SUM(hours), SUM(emp_id) FROM assignments GROUP BY project_id",
      paraphrase="Delete every assignment on the project '{project}' that has under {hours} hours logged.",
      project="SELECT name FROM projects", hours=range(50, 400, 10)),
]

ENROLLED = "FROM enrollments e JOIN students s ON s.student_id = e.student_id JOIN courses c USING (course_id)"
COURSE = "SELECT title FROM courses"
TERM = ("2023-fall", "2024-spring", "2024-fall")
HOUSES = ("Oak", "Maple", "Cedar", "Pine")
SCHOOL = [
    A("top_scorers", "school", "Which students scored at least {score} in {course} in the {term} term?",
      f"SELECT s.name {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} AND e.grade >= {{score}}",
      paraphrase="In the {term} term, which students got a grade of {score} or more in {course}?",
      course=COURSE, term=TERM, score=range(75, 100)),
    A("course_average", "school",
      "What was the average grade of grade-{level} students in {course} in the {term} term? " + ROUND2,
      f"SELECT ROUND(AVG(e.grade), 2) {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} "
      "AND s.grade_level = {level}",
      kind="number", fetch="e.grade", decimals=2,
      paraphrase="Among grade-{level} students taking {course} in the {term} term, what was the mean grade? "
      + ROUND2,
      level=(9, 10, 11, 12), course=COURSE, term=TERM),
    A("student_courses", "school", "Which courses did {student} take in the {term} term? Give the course titles.",
      f"SELECT c.title {ENROLLED} WHERE s.name = {{student}} AND e.term = {{term}}",
      paraphrase="Give the titles of the courses {student} was enrolled in during the {term} term.",
      student="SELECT name FROM students", term=TERM),
    A("low_scorers_in_subject", "school",
      "Which students scored below {score} in a {subject} course in the {term} term?",
      f"SELECT DISTINCT s.name {ENROLLED} WHERE c.subject = {{subject}} AND e.term = {{term}} AND e.grade < {{score}}",
      paraphrase="In the {term} term, who got a grade under {score} in some {subject} course?",
      subject="SELECT DISTINCT subject FROM courses", term=TERM, score=range(50, 80)),
    A("course_ranking", "school",
      "List the {n} students with the highest grades in {course} in the {term} term, best first "
      "(break ties by name).",
      f"SELECT s.name {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} "
      "ORDER BY e.grade DESC, s.name LIMIT {n}",
      ordered=True,
      paraphrase="Who were the top {n} students by grade in {course} in the {term} term? Start with the best "
      "(equal grades in name order).",
      n=(3, 4, 5), course=COURSE, term=TERM),
    A("house_enrollment", "school",
      "How many grade-{level} students of {house} house were enrolled in {course} in the {term} term?",
      f"SELECT COUNT(*) {ENROLLED} WHERE c.title = {{course}} AND e.term = {{term}} AND s.grade_level = {{level}} "
      "AND s.house = {house}",
      kind="number", fetch="s.name",
      paraphrase="What number of {house} house students in grade {level} took {course} in the {term} term?",
      level=(9, 10, 11, 12), house=HOUSES, course=COURSE, term=TERM),
    A("student_subjects", "school", "Which subjects did {student} study in the {term} term?",
      f"SELECT DISTINCT c.subject {ENROLLED} WHERE s.name = {{student}} AND e.term = {{term}}",
      paraphrase="In the {term} term, what subjects was {student} studying?",
      student="SELECT name FROM students", term=TERM),
    A("subject_best", "school",
      "What was the highest grade in {subject} courses in the {term} term among students of {house} house?",
      f"SELECT MAX(e.grade) {ENROLLED} WHERE c.subject = {{subject}} AND e.term = {{term}} AND s.house = {{house}}",
      kind="number", fetch="e.grade",
      paraphrase="Among {house} house students, what was the top grade in any {subject} course in the {term} term?",
      subject="SELECT DISTINCT subject FROM courses", term=TERM, house=HOUSES),
    A("credits_earned", "school",
      "How many credits did {student} earn in the {term} term, counting only courses with a grade of at least 60?",
      f"SELECT SUM(c.credits) {ENROLLED} WHERE s.name = {{student}} AND e.term = {{term}} AND e.grade >= 60",
      kind="number", fetch="c.credits",
      paraphrase="Counting only courses passed with a grade of 60 or more, what credit total did {student} reach "
      "in the {term} term?",
      student="SELECT name FROM students", term=TERM),
    S("record_grade", "school", "Record a grade of {grade} for {student} in {course} for the {term} term.",
      "INSERT INTO enrollments (student_id, course_id, term, grade) VALUES ((SELECT student_id FROM students "
      "WHERE name = {student}), (SELECT course_id FROM courses WHERE title = {course}), {term}, {grade})",
      f"SELECT (SELECT COUNT(*) FROM enrollments), c.title, e.term, e.grade {ENROLLED} WHERE s.name = {{student}}",
      paraphrase="{student} took {course} in the {term} term and got {grade}: enter that grade.",
      grade=range(40, 101), student="SELECT name FROM students", course=COURSE, term=TERM),
    S("curve", "school",
      "Add {points} points to every grade in {course} for the {term} term, capping grades at 100.",
      "UPDATE enrollments SET grade = MIN(100, grade + {points}) WHERE term = {term} "
      "AND course_id = (SELECT course_id FROM courses WHERE title = {course})",
      "SELECT course_id, term, COUNT(*), SUM(grade), SUM(student_id) FROM enrollments GROUP BY course_id, term",
      paraphrase="Curve {course} for the {term} term: raise each grade by {points} points, but never above 100.",
      points=range(2, 11), course=COURSE, term=TERM),
    S("unenroll", "school", "Remove {pair[0]} from {pair[1]} for the {pair[2]} term.",
      "DELETE FROM enrollments WHERE term = {pair[2]} AND student_id = (SELECT student_id FROM students "
      "WHERE name = {pair[0]}) AND course_id = (SELECT course_id FROM courses WHERE title = {pair[1]})",
      "SELECT course_id, term, COUNT(*), SUM(grade), SUM(student_id) FROM enrollments GROUP BY course_id, term",
      paraphrase="Drop the {pair[2]} enrollment of {pair[0]} in {pair[1]}.",
      pair=f"SELECT s.name, c.title, e.term {ENROLLED}"),
    S("room_change", "school", "Move the course {course} to room {room}.",
      "UPDATE courses SET room = {room} WHERE title = {course}", "SELECT course_id, room FROM courses",
      paraphrase="From now on {course} is taught in room {room}: update the course.",
      course=COURSE, room=tuple(f"{wing}{n}" for wing in "ABCD" for n in range(101, 131))),
]

ID_TEMPLATES: tuple[Template, ...] = tuple(BOOKSTORE + COMPANY + SCHOOL)
