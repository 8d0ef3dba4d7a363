"""GridPulse benchmarks (`make bench` = `.venv/bin/python -m bench`).

Each table prints its baseline measured (or, where stated, computed) in the same run:

* imports   (bench/imports.py): cold-start import time of every function
  handler in template.yaml, beside the floor every function pays anyway: a
  fresh interpreter doing `import boto3` and creating a DynamoDB client.
* dynamodb  (bench/dynamodb.py): DynamoDB requests made by one call of every
  REST route, with AWS mocked by moto exactly as the tests do, and how many of
  them the authenticated-request check costs.
* lights    (bench/lights.py): DynamoDB requests (and items read) per lights
  route for a city of 200 lights, beside the devices list of the same city
  and the schedule's previous all-lights read; time from a control to the
  lamp's confirmation through the local stack (median, p90 of 20) beside a
  plain MQTT round trip on the same broker.
* ingestion (bench/ingestion): readings per second through the SQS
  ingestion handler, requests and estimated capacity units per message and
  per reading, beside a naive one-put-per-reading design fed the same stream;
  items read by 1-day, 30-day and 365-day energy queries.
* alerts    (bench/alerts.py): readings evaluated per second through the alert
  evaluator's SQS handler, requests, estimated capacity units, alerts and
  notifications per message (steady, breach episode, duplicate delivery),
  beside ingestion of the same messages and a naive evaluator with no guard.
* cost      (bench/cost.py): those measurements turned into $ per
  device-month at one reading every 30 s, ours beside the naive design, with
  the prices written in the code.

Options: `--runs N` (fresh interpreters per import row, default 7), `--only
imports|dynamodb|lights|ingestion|alerts|cost|soak` (repeatable; soak, the local
stack's memory, `make soak`, runs only when named) and `--size small|full`. See each
module's docstring for how to read its table.
"""
