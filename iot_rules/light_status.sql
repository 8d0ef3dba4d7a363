SELECT *, topic(2) AS thing_name, clientid() AS client_id, principal() AS principal, timestamp() AS received_at, newuuid() AS message_id FROM 'gridpulse/+/status' WHERE topic(2) = clientid()
