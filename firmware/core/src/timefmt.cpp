#include "gp/timefmt.h"

#include <cstdio>

namespace gp {

// Howard Hinnant's civil-date algorithms (public domain).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool format_iso8601(int64_t epoch_s, char* out, unsigned out_size) {
  if (out_size < 21 || epoch_s < 0 || epoch_s > 253402300799LL) return false;
  int64_t days = epoch_s / 86400;
  int64_t secs = epoch_s % 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::snprintf(out, out_size, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(y), m, d,
                static_cast<int>(secs / 3600), static_cast<int>((secs / 60) % 60), static_cast<int>(secs % 60));
  return true;
}

static bool digits(const char* s, int n, int& out) {
  out = 0;
  for (int i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool parse_iso8601(const char* t, int64_t& epoch_s) {
  int y, mo, d, h, mi, s;
  if (!digits(t, 4, y) || t[4] != '-' || !digits(t + 5, 2, mo) || t[7] != '-' || !digits(t + 8, 2, d) ||
      t[10] != 'T' || !digits(t + 11, 2, h) || t[13] != ':' || !digits(t + 14, 2, mi) || t[16] != ':' ||
      !digits(t + 17, 2, s))
    return false;
  const char* rest = t + 19;
  if (*rest == '.') {
    ++rest;
    if (*rest < '0' || *rest > '9') return false;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  if (rest[0] != 'Z' || rest[1] != '\0') return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return false;
  epoch_s = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

}  // namespace gp
