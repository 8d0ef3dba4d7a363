// UTC timestamps as the cloud wants them: ISO 8601 "2026-11-22T10:00:00Z".
#pragma once

#include <cstdint>

namespace gp {

// 2024-01-01T00:00:00Z. An ESP32 clock reading earlier than this has not been set by SNTP yet.
constexpr int64_t kMinValidEpoch = 1704067200;

constexpr bool epoch_valid(int64_t epoch_s) { return epoch_s >= kMinValidEpoch; }

// Writes 20 characters and a NUL into `out` (at least 21 bytes). Years 1970..9999.
bool format_iso8601(int64_t epoch_s, char* out, unsigned out_size);

// Parses "YYYY-MM-DDTHH:MM:SSZ" (optionally with ".fff" before the Z; fractions are dropped).
bool parse_iso8601(const char* text, int64_t& epoch_s);

int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace gp
