// Telemetry and status payloads: the device side of contracts/.
//
// gridpulse/{thing}/telemetry carries one reading as a JSON object, or
// {"readings": [...]} for more; each reading has "timestamp" (ISO 8601 UTC),
// "seq" and the measurements the sensor produced, nothing else (the cloud
// refuses unknown fields). gridpulse/{thing}/status carries a light's
// {"status": "on"|"off"|"error", "error_details"?, "command_id"?}: the
// command_id of the last command the lamp applied (the cloud confirms a
// command only from a report carrying its id), absent before any command.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "gp/json.h"
#include "gp/reading.h"

namespace gp {

constexpr size_t kCloudMaxReadings = 500;      // readings.MAX_BATCH
constexpr size_t kBillingUnitBytes = 5 * 1024;  // IoT Core meters messages in 5 KB steps
constexpr size_t kMaxMessageBytes = kBillingUnitBytes;

void append_reading(std::string& out, const Reading& r);
std::string encode_reading(const Reading& r);                    // one reading: the object itself
std::string encode_batch(const Reading* readings, size_t count);  // {"readings":[...]}

// The message for readings[0..]: as many (at most `max_count`) as fit in
// `max_bytes`, always at least one. A single reading is sent as a bare object.
// Returns how many readings the message holds.
size_t pack_message(const Reading* readings, size_t count, size_t max_count, size_t max_bytes, std::string& out);

// The inverse, for tests and tools: values back to fixed point.
bool decode_reading(const JsonValue& v, Reading& out, std::string* error = nullptr);
bool decode_message(const char* data, size_t len, std::vector<Reading>& out, std::string* error = nullptr);

enum class LampStatus : unsigned char { Off, On, Error };
const char* lamp_status_name(LampStatus s);
std::string encode_status(LampStatus status, const char* error_details = nullptr, const char* command_id = nullptr);

}  // namespace gp
