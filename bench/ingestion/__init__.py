"""Telemetry ingestion and energy queries: DynamoDB requests and capacity units,
beside a naive design measured in the same run.

What is measured. AWS is moto's `mock_aws` with the tables and queues of
template.yaml (bench.stack.mocked_stack, as the tests' `aws` fixture). A hotel
(Europe/Lisbon) with meters is created through the API (the in-process
gateway, as bench/dynamodb.py does). Each meter sends a message every 5
minutes holding 10 readings 30 s apart (cumulative `energy_kwh` counter,
`power_w`, `voltage`, `current`); each message is wrapped as the IoT rule
(iot_rules/telemetry.sql) outputs it, less `principal` (payload + thing_name,
client_id, received_at; so the certificate check, one consistent GetItem per
device and batch, is not counted) into an SQS record, and the records go through
gridpulse.telemetry.pipeline.handle_sqs_batch, the IngestFunction's code. The
measured window is 11:00 onwards, local time, of one day; the readings of that
day before 11:00 are loaded first (one backlog ingest per meter, not measured)
so that the day rollup items have their day-average size.


Every DynamoDB request is recorded (bench.calls.CallRecorder) and its capacity
units ESTIMATED from the request and response payloads (capacity.py).


* ours, steady: each SQS batch holds one message per meter, which is what a
  fleet looks like at one message per meter per 5 minutes (the batch window is
  5 s): a batch of 100 records from 100 meters costs 100x one of these. The
  device-context cache (CONTEXT_TTL_S, 10 minutes per container) is emptied
  before each batch, so every message pays its device read, as in a container
  that has not seen that meter within the last 10 minutes. This row is what bench/cost.py prices.
* ours, backlog: the same kind of stream for other meters, in batches of 100
  records (many consecutive messages per meter, e.g. after an outage), to
  show what grouping by device saves.
* ours, duplicate delivery: the steady stream delivered again, whole (SQS and
  MQTT are at-least-once).
* naive: what most tutorials do, implemented here against a scratch table in
  the same mock: one IoT rule -> Lambda invocation per reading (the device
  sends each reading on its own, with the energy since its previous reading
  so that no read is needed), one PutItem per reading keyed by device +
  timestamp and three UpdateItem ADDs for the hour, day and month totals.
  Fed the same readings as the steady row, then the same readings again.

The energy-query table: a separate meter gets 365 day rollup items written
directly (not through ingestion, which would take too long under moto) in the
shape rollups._write_day writes; then gridpulse.telemetry.service.energy
asks for 1 day by hour, 30 days by day and 365 days by month, and the items
DynamoDB returned are counted from the recorded Query responses.

The modules: workload.py (the meters' stream, our design and the naive one,
driven through their handlers: `measure`), capacity.py (item sizes and the
Ledger that estimates capacity units from the recorded calls), report.py
(the tables `python -m bench --only ingestion` prints; how to read them).
"""

from __future__ import annotations

from bench.ingestion.report import report
from bench.ingestion.workload import Measurement, measure

__all__ = ["Measurement", "measure", "report", "run"]


def run(size_name: str = "full") -> tuple[int, Measurement]:
    measurement = measure(size_name)
    return report(measurement), measurement
