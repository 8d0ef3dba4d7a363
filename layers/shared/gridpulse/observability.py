"""One Logger, Tracer and Metrics for the whole code base.

Service name and namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set in template.yaml Globals).
"""
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["logger", "tracer", "metrics", "MetricUnit", "count"]


def count(name: str, value: int = 1) -> None:
    """Record a business metric (readings ingested, logins failed, ...)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
