// Small persistent settings (on the ESP32: NVS through Preferences, namespace "gridpulse").
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace gp {

class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual bool get_string(const char* key, std::string& out) = 0;
  virtual bool put_string(const char* key, const std::string& value) = 0;
  virtual bool get_i64(const char* key, int64_t& out) = 0;
  virtual bool put_i64(const char* key, int64_t value) = 0;
  virtual bool remove(const char* key) = 0;
};

// In RAM: host tests and tools.
class MemoryKv : public KvStore {
 public:
  bool get_string(const char* key, std::string& out) override {
    auto it = strings.find(key);
    if (it == strings.end()) return false;
    out = it->second;
    return true;
  }
  bool put_string(const char* key, const std::string& value) override {
    strings[key] = value;
    ++writes;
    return true;
  }
  bool get_i64(const char* key, int64_t& out) override {
    auto it = numbers.find(key);
    if (it == numbers.end()) return false;
    out = it->second;
    return true;
  }
  bool put_i64(const char* key, int64_t value) override {
    numbers[key] = value;
    ++writes;
    return true;
  }
  bool remove(const char* key) override {
    strings.erase(key);
    numbers.erase(key);
    return true;
  }
  std::map<std::string, std::string> strings;
  std::map<std::string, int64_t> numbers;
  int writes = 0;
};

// Keys (at most 15 characters: an NVS limit).
namespace keys {
constexpr const char* kThingName = "thing";
constexpr const char* kEndpoint = "endpoint";
constexpr const char* kPort = "port";
constexpr const char* kCertPem = "cert";      // device certificate (PEM)
constexpr const char* kKeyPem = "key";        // device private key (PEM): read by the TLS client only
constexpr const char* kCaPem = "ca";          // CA that signs the broker's certificate
constexpr const char* kWifiSsid = "wifi_ssid";
constexpr const char* kWifiPass = "wifi_pass";
constexpr const char* kSampleInterval = "cfg_interval";
constexpr const char* kBatchSize = "cfg_batch";
constexpr const char* kLampMinCurrent = "cfg_lamp_min";
constexpr const char* kShadowVersion = "shadow_ver";
constexpr const char* kEnergyOffset = "e_offset";
constexpr const char* kEnergyLastRaw = "e_last_raw";
constexpr const char* kEnergyTotal = "e_total";
constexpr const char* kLightMode = "light_mode";
constexpr const char* kLightBrightness = "light_bri";
constexpr const char* kLightSeq = "light_seq";    // seq of the last light command applied
constexpr const char* kLightCommand = "light_cmd";  // its command_id
}  // namespace keys

}  // namespace gp
