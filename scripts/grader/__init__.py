"""mailedu-grade: grades a class's mail captures against a rubric.

Reads each capture once through `tshark -q -z mailedu,sessions,json` (schema in
docs/sessions-schema.md) and writes grades.csv, grades.json and report.html.
Python 3.11 standard library only."""
