"""One recorder of AWS calls, shared by the tests' guard and the benchmarks.

`CallRecorder` wraps botocore's `BaseClient._make_api_call`, the one method
every boto3/PynamoDB request goes through, and keeps a `Call` per request:
service, operation, parameters, the response (or the error code of a
ClientError), the process CPU time spent inside the call (botocore and, under
moto, the mock itself) and `tag`, whatever the recorder's `tag` was when the
call was made (a benchmark sets it to say what the call is charged to).

Users:
* tests/conftest.py's autouse `dynamodb_calls` fixture: records every call of
  a test and refuses a DynamoDB Scan (`forbid`);
* bench/dynamodb.py: requests per route, tagged inside the auth check;
* bench/ingestion/capacity.py's `Ledger` (and bench/alerts.py through it):
  capacity units estimated from the recorded requests and responses.

Install it with `with recorder.installed():` or, in a pytest fixture,
`recorder.install(monkeypatch)`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Call:
    service: str  # "dynamodb", "sqs"...
    operation: str  # "GetItem", "SendMessage"...
    params: dict
    response: dict | None = None  # None when the call raised
    error: str | None = None  # the error code of a ClientError
    cpu_s: float = 0.0  # process CPU time inside the call
    tag: Any = None  # the recorder's `tag` when the call was made


class CallRecorder:
    """Every AWS request made while installed, in order (`records`).

    `forbid` maps (service, operation) to a message: such a call is recorded,
    then raises AssertionError with that message instead of being made.
    """

    def __init__(self, forbid: dict[tuple[str, str], str] | None = None):
        self.records: list[Call] = []
        self.forbid = dict(forbid or {})
        self.tag: Any = None
        self.aws_cpu_s = 0.0  # process CPU time inside every recorded call
        self._original = None

    # ------------------------------------------------------------ reading

    @property
    def calls(self) -> list[tuple[str, str]]:
        """(service, operation) of every recorded call."""
        return [(c.service, c.operation) for c in self.records]

    def dynamodb(self) -> list[str]:
        """The DynamoDB operations, in order."""
        return [c.operation for c in self.records if c.service == "dynamodb"]

    def clear(self) -> None:
        self.records.clear()

    def take(self) -> list[Call]:
        """The records so far, which are then forgotten."""
        taken, self.records = self.records, []
        return taken

    # ------------------------------------------------------------ installing

    def _recording(self, original):
        from botocore.exceptions import ClientError

        recorder = self

        def recording(client, operation_name, api_params):
            call = Call(client.meta.service_model.service_name, operation_name, api_params, tag=recorder.tag)
            recorder.records.append(call)
            refusal = recorder.forbid.get((call.service, operation_name))
            if refusal:
                raise AssertionError(refusal)
            started = time.process_time()
            try:
                call.response = original(client, operation_name, api_params)
            except ClientError as exc:
                call.error = exc.response.get("Error", {}).get("Code")
                raise
            finally:
                call.cpu_s = time.process_time() - started
                recorder.aws_cpu_s += call.cpu_s
            return call.response

        return recording

    @contextlib.contextmanager
    def installed(self):
        import botocore.client

        original = self._original = botocore.client.BaseClient._make_api_call
        botocore.client.BaseClient._make_api_call = self._recording(original)
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original
            self._original = None

    def install(self, monkeypatch) -> CallRecorder:
        """Install for one test (pytest's monkeypatch undoes it)."""
        import botocore.client

        self._original = botocore.client.BaseClient._make_api_call
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", self._recording(self._original))
        return self

    def unrecorded(self, client, operation_name: str, api_params: dict) -> dict:
        """Make a call past the recorder (e.g. the benchmark's own DescribeTable)."""
        if self._original is None:
            raise RuntimeError("the recorder is not installed")
        return self._original(client, operation_name, api_params)
