#include "gp/config.h"

#include <cstdio>

#include "gp/log.h"

namespace gp {
namespace {
const char* const kTag = "shadow";

bool in_range(int64_t v, uint32_t lo, uint32_t hi) { return v >= lo && v <= hi; }
}  // namespace

const char* role_name(Role role) { return role == Role::Light ? "light" : "meter"; }

const char* wifi_problem(const WifiCredentials& w) {
  if (w.ssid.empty() || w.ssid.size() > 32) return "ssid must be 1..32 bytes";
  if (w.password.size() < 8 || w.password.size() > 63) return "password must be 8..63 characters";
  return nullptr;
}

void load_config(KvStore& kv, DeviceConfig& cfg) {
  cfg = DeviceConfig();
  int64_t v;
  if (kv.get_i64(keys::kSampleInterval, v) && in_range(v, limits::kMinInterval, limits::kMaxInterval))
    cfg.sample_interval_s = static_cast<uint32_t>(v);
  if (kv.get_i64(keys::kBatchSize, v) && in_range(v, limits::kMinBatch, limits::kMaxBatch))
    cfg.batch_size = static_cast<uint32_t>(v);
  if (kv.get_i64(keys::kLampMinCurrent, v) && in_range(v, limits::kMinLampCurrent, limits::kMaxLampCurrent))
    cfg.lamp_min_current_ma = static_cast<uint32_t>(v);
}

void save_config(KvStore& kv, const DeviceConfig& cfg) {
  kv.put_i64(keys::kSampleInterval, cfg.sample_interval_s);
  kv.put_i64(keys::kBatchSize, cfg.batch_size);
  kv.put_i64(keys::kLampMinCurrent, cfg.lamp_min_current_ma);
}

MergeResult merge_desired(const JsonValue& state, Role role, DeviceConfig& cfg, const WifiCredentials& current_wifi) {
  MergeResult out;
  out.wifi = current_wifi;
  if (!state.is_object()) {
    out.errors.emplace_back("state", "not an object");
    return out;
  }
  struct NumberKey {
    const char* name;
    uint32_t lo, hi;
    uint32_t DeviceConfig::*field;
    bool light_only;
  };
  static const NumberKey kNumbers[] = {
      {"sample_interval_s", limits::kMinInterval, limits::kMaxInterval, &DeviceConfig::sample_interval_s, false},
      {"batch_size", limits::kMinBatch, limits::kMaxBatch, &DeviceConfig::batch_size, false},
      {"lamp_min_current_ma", limits::kMinLampCurrent, limits::kMaxLampCurrent, &DeviceConfig::lamp_min_current_ma,
       true},
  };
  for (const auto& member : state.members()) {
    const std::string& key = member.first;
    const JsonValue& value = member.second;
    if (key == "wifi") {
      if (value.is_null()) continue;  // desired.wifi cleared: nothing to do
      if (!value.is_object()) {
        out.errors.emplace_back("wifi", "must be an object");
        continue;
      }
      WifiCredentials merged = current_wifi;
      const JsonValue* ssid = value.get("ssid");
      const JsonValue* password = value.get("password");
      if ((ssid && !ssid->is_string()) || (password && !password->is_string())) {
        out.errors.emplace_back("wifi", "ssid and password must be strings");
        continue;
      }
      if (ssid) merged.ssid = ssid->as_string();
      if (password) merged.password = password->as_string();
      if (const char* why = wifi_problem(merged)) {
        out.errors.emplace_back("wifi", why);
        continue;
      }
      out.wifi_requested = true;
      out.wifi = merged;
      continue;
    }
    if (key == "light" && role == Role::Light) continue;  // the light's commands: gp::Node::apply_light
    const NumberKey* spec = nullptr;
    for (const NumberKey& k : kNumbers)
      if (key == k.name && (!k.light_only || role == Role::Light)) spec = &k;
    if (spec == nullptr) {
      out.ignored.push_back(key);
      GP_LOGI(kTag, "desired key '%s' ignored: not a setting of this device", key.c_str());
      continue;
    }
    int64_t v;
    if (!value.get_integral(v) || !in_range(v, spec->lo, spec->hi)) {
      char why[48];
      std::snprintf(why, sizeof why, "must be an integer %u..%u", static_cast<unsigned>(spec->lo),
                    static_cast<unsigned>(spec->hi));
      out.errors.emplace_back(key, why);
      GP_LOGW(kTag, "desired %s refused: %s", key.c_str(), why);
      continue;
    }
    if (cfg.*(spec->field) != static_cast<uint32_t>(v)) {
      GP_LOGI(kTag, "%s: %u -> %u", key.c_str(), static_cast<unsigned>(cfg.*(spec->field)), static_cast<unsigned>(v));
      cfg.*(spec->field) = static_cast<uint32_t>(v);
      out.config_changed = true;
    }
  }
  return out;
}

std::string encode_reported(const Reported& r) {
  std::string out;
  JsonWriter w(out);
  w.begin_object().key("state").begin_object().key("reported").begin_object();
  w.key("device").value(role_name(r.role));
  w.key("firmware").value(r.firmware);
  w.key("sample_interval_s").value(static_cast<int64_t>(r.config.sample_interval_s));
  w.key("batch_size").value(static_cast<int64_t>(r.config.batch_size));
  if (r.role == Role::Light) {
    w.key("lamp_min_current_ma").value(static_cast<int64_t>(r.config.lamp_min_current_ma));
    if (r.light_mode) {
      w.key("light").begin_object().key("action").value(r.light_mode);
      if (r.light_brightness >= 0) w.key("brightness").value(static_cast<int64_t>(r.light_brightness));
      w.key("seq").value(r.light_seq);
      if (!r.light_command_id.empty()) w.key("command_id").value(r.light_command_id);
      w.end_object();
    }
  }
  w.key("wifi").begin_object().key("ssid").value(r.wifi_ssid).end_object();
  w.key("wifi_error");
  if (r.wifi_error.empty()) w.null(); else w.value(r.wifi_error);
  w.key("config_errors");
  if (r.config_errors.empty()) {
    w.null();
  } else {
    w.begin_object();
    for (const auto& e : r.config_errors) w.key(e.first.c_str()).value(e.second);
    w.end_object();
  }
  w.end_object();  // reported
  if (r.clear_desired_wifi) w.key("desired").begin_object().key("wifi").null().end_object();
  w.end_object().end_object();
  return out;
}

}  // namespace gp
