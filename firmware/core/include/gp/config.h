// Device settings and the shadow: what the cloud asks for (desired / delta),
// how it is merged into the running configuration, and what the device
// reports back.
//
// Shadow keys (all at the top level of "state"):
//   sample_interval_s    5..3600   seconds between readings       (default 30)
//   batch_size           1..100    readings per telemetry message (default 10)
//   lamp_min_current_ma  10..5000  lights: below this while on = bulb failed (default 50)
//   wifi                 {ssid 1..32 bytes, password 8..63 bytes}  (set by POST/PATCH /devices)
//   light                lights: the last command (gp/commands.h); applied by gp::Node, skipped here
// A delta may hold only part of "wifi" (the shadow diffs nested objects key by
// key): the missing half is taken from the current credentials. The device
// applies "wifi", then clears it from the desired state ({"desired":{"wifi":null}})
// so that the password does not stay in the shadow, and reports only the SSID.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gp/json.h"
#include "gp/kv.h"

namespace gp {

enum class Role : unsigned char { Meter, Light };
const char* role_name(Role role);

struct WifiCredentials {
  std::string ssid;
  std::string password;
  bool empty() const { return ssid.empty(); }
};
inline bool operator==(const WifiCredentials& a, const WifiCredentials& b) {
  return a.ssid == b.ssid && a.password == b.password;
}
inline bool operator!=(const WifiCredentials& a, const WifiCredentials& b) { return !(a == b); }
// Why the credentials cannot be used (nullptr when they can).
const char* wifi_problem(const WifiCredentials& w);

struct DeviceConfig {
  uint32_t sample_interval_s = 30;
  uint32_t batch_size = 10;
  uint32_t lamp_min_current_ma = 50;
};
inline bool operator==(const DeviceConfig& a, const DeviceConfig& b) {
  return a.sample_interval_s == b.sample_interval_s && a.batch_size == b.batch_size &&
         a.lamp_min_current_ma == b.lamp_min_current_ma;
}

namespace limits {
constexpr uint32_t kMinInterval = 5, kMaxInterval = 3600;
constexpr uint32_t kMinBatch = 1, kMaxBatch = 100;
constexpr uint32_t kMinLampCurrent = 10, kMaxLampCurrent = 5000;
}  // namespace limits

void load_config(KvStore& kv, DeviceConfig& cfg);  // out-of-range stored values fall back to defaults
void save_config(KvStore& kv, const DeviceConfig& cfg);

struct MergeResult {
  bool config_changed = false;
  bool wifi_requested = false;        // "wifi" was in the document and is valid
  WifiCredentials wifi;               // current credentials with the document's fields on top
  std::vector<std::pair<std::string, std::string>> errors;  // key -> why it was refused
  std::vector<std::string> ignored;   // keys this device does not know
};

// Merges a shadow "state" object (a delta, or the desired state) into `cfg`.
// Invalid values leave the setting as it was and are listed in `errors`.
MergeResult merge_desired(const JsonValue& state, Role role, DeviceConfig& cfg, const WifiCredentials& current_wifi);

struct Reported {
  Role role = Role::Meter;
  const char* firmware = "";
  DeviceConfig config;
  std::string wifi_ssid;
  std::string wifi_error;   // why the last Wi-Fi change was rolled back ("" : none)
  std::vector<std::pair<std::string, std::string>> config_errors;
  bool clear_desired_wifi = false;
  // Lights: state.reported.light = {"action", "brightness", "seq", "command_id"?}
  // (the last command applied), the counterpart of desired.light.
  const char* light_mode = nullptr;  // "on" | "off" | "auto"
  int light_brightness = -1;
  int64_t light_seq = 0;
  std::string light_command_id;
};
// {"state":{"reported":{...}}} (plus "desired":{"wifi":null} when asked).
std::string encode_reported(const Reported& r);

// Shadow documents carry a version that grows with every update; an older or
// repeated delta (MQTT may redeliver) is not applied twice.
class ShadowVersionGate {
 public:
  bool accept(int64_t version) {
    if (have_ && version <= last_) return false;
    have_ = true;
    last_ = version;
    return true;
  }
  void reset() { have_ = false; }

 private:
  bool have_ = false;
  int64_t last_ = 0;
};

}  // namespace gp
