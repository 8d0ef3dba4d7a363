SELECT eventType AS event_type, clientId AS thing_name, timestamp AS event_time, disconnectReason AS disconnect_reason, timestamp() AS received_at FROM '$aws/events/presence/+/+'
