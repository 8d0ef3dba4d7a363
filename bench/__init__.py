"""GridPulse benchmarks (`make bench` = `.venv/bin/python -m bench`).

Two tables, each with its baseline measured or stated in the same run:

* imports  (bench/imports.py): cold-start import time of every function
  handler in template.yaml, beside a fresh interpreter doing only
  `import boto3` (the floor every function pays anyway).
* dynamodb (bench/dynamodb.py): DynamoDB requests made by one call of each
  auth, users and health route, with AWS mocked by moto exactly as the tests
  do, and how many of them the authenticated-request check costs.

Options: `--runs N` (fresh interpreters per import row, default 7) and
`--only imports|dynamodb`. See each module's docstring for how to read it.
"""
