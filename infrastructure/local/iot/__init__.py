"""AWS IoT Core on the laptop, one module per part of the service:

* core.py: `LocalIoT`, the whole of it as the local stack starts it (device
  certificates from the local CA registered in moto's IoT registry, the
  broker, the rules engine);
* ca.py: the certificate authority the broker and the devices trust;
* broker.py: the MQTT 3.1.1 broker with mutual TLS (IoT Core's device gateway);
* policy.py: the IoT policy evaluator the broker asks on every operation;
* topics.py: MQTT topic names and filters, validation and matching (the
  broker's subscriptions and the rules' FROM clauses);
* sql.py: the subset of IoT SQL the topic rules use;
* shadow.py: the Device Shadow service (MQTT topics and the iot-data API, one store);
* rules.py: the rules engine, which hands rule outputs to
  infrastructure/local/event_sources.py (Lambda's SQS event source mappings
  and asynchronous invocations, shared with queues the SDK sends to).

Importing the package imports none of them.
"""
