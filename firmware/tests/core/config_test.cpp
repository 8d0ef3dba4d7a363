#include <gtest/gtest.h>

#include "gp/config.h"
#include "gp/json.h"
#include "gp/testing/fakes.h"

using gp::DeviceConfig;
using gp::JsonValue;
using gp::Role;
using gp::WifiCredentials;

namespace {
JsonValue parse(const std::string& s) {
  JsonValue v;
  EXPECT_TRUE(gp::json_parse(s, v)) << s;
  return v;
}
const WifiCredentials kCurrent{"hotel-wifi", "wifi-pass-1"};
}  // namespace

TEST(ShadowMerge, AppliesIntervalAndBatchSize) {
  DeviceConfig cfg;
  auto m = gp::merge_desired(parse(R"({"sample_interval_s":60,"batch_size":20})"), Role::Meter, cfg, kCurrent);
  EXPECT_TRUE(m.config_changed);
  EXPECT_EQ(cfg.sample_interval_s, 60u);
  EXPECT_EQ(cfg.batch_size, 20u);
  EXPECT_TRUE(m.errors.empty());
  EXPECT_FALSE(m.wifi_requested);
  // The same again changes nothing.
  m = gp::merge_desired(parse(R"({"sample_interval_s":60.0})"), Role::Meter, cfg, kCurrent);
  EXPECT_FALSE(m.config_changed);
}

TEST(ShadowMerge, RefusesBadValuesAndKeepsTheOldOnes) {
  gp::testing::LogCapture logs;
  DeviceConfig cfg;
  auto m = gp::merge_desired(parse(R"({"sample_interval_s":1,"batch_size":"ten","lamp_min_current_ma":20,"colour":"red"})"),
                             Role::Meter, cfg, kCurrent);
  EXPECT_FALSE(m.config_changed);
  EXPECT_EQ(cfg, DeviceConfig());
  ASSERT_EQ(m.errors.size(), 2u);
  EXPECT_EQ(m.errors[0].first, "sample_interval_s");
  EXPECT_EQ(m.errors[1].first, "batch_size");
  EXPECT_EQ(m.ignored, (std::vector<std::string>{"lamp_min_current_ma", "colour"}));  // not a meter setting
  EXPECT_TRUE(logs.contains("desired sample_interval_s refused"));
  m = gp::merge_desired(parse(R"({"lamp_min_current_ma":120})"), Role::Light, cfg, kCurrent);
  EXPECT_TRUE(m.config_changed);
  EXPECT_EQ(cfg.lamp_min_current_ma, 120u);
}

TEST(ShadowMerge, WifiFromTheDesiredState) {
  DeviceConfig cfg;
  auto m = gp::merge_desired(parse(R"({"wifi":{"ssid":"new-net","password":"new-pass-123"}})"), Role::Meter, cfg,
                             kCurrent);
  ASSERT_TRUE(m.wifi_requested);
  EXPECT_EQ(m.wifi.ssid, "new-net");
  EXPECT_EQ(m.wifi.password, "new-pass-123");
}

TEST(ShadowMerge, APartialWifiDeltaIsMergedWithTheCurrentCredentials) {
  // The shadow diffs nested objects key by key: a new password for the same SSID arrives alone.
  DeviceConfig cfg;
  auto m = gp::merge_desired(parse(R"({"wifi":{"password":"rotated-pass-9"}})"), Role::Meter, cfg, kCurrent);
  ASSERT_TRUE(m.wifi_requested);
  EXPECT_EQ(m.wifi.ssid, "hotel-wifi");
  EXPECT_EQ(m.wifi.password, "rotated-pass-9");
}

TEST(ShadowMerge, RefusesUnusableWifiAndIgnoresAClearedOne) {
  DeviceConfig cfg;
  auto m = gp::merge_desired(parse(R"({"wifi":{"ssid":"x","password":"short"}})"), Role::Meter, cfg, kCurrent);
  EXPECT_FALSE(m.wifi_requested);
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].first, "wifi");
  m = gp::merge_desired(parse(R"({"wifi":null})"), Role::Meter, cfg, kCurrent);
  EXPECT_FALSE(m.wifi_requested);
  EXPECT_TRUE(m.errors.empty());
  m = gp::merge_desired(parse(R"({"wifi":"hotel"})"), Role::Meter, cfg, kCurrent);
  EXPECT_FALSE(m.wifi_requested);
  EXPECT_EQ(m.errors.size(), 1u);
  m = gp::merge_desired(parse(R"([1])"), Role::Meter, cfg, kCurrent);
  EXPECT_EQ(m.errors.size(), 1u);
}

TEST(ShadowReported, NeverCarriesThePasswordAndClearsDesiredWifiWhenAsked) {
  gp::Reported r;
  r.firmware = "1.0.0";
  r.wifi_ssid = "hotel-wifi";
  r.clear_desired_wifi = true;
  r.config_errors = {{"batch_size", "must be an integer 1..100"}};
  const std::string doc = gp::encode_reported(r);
  EXPECT_EQ(doc,
            R"({"state":{"reported":{"device":"meter","firmware":"1.0.0","sample_interval_s":30,"batch_size":10,)"
            R"("wifi":{"ssid":"hotel-wifi"},"wifi_error":null,"config_errors":{"batch_size":"must be an integer 1..100"}},)"
            R"("desired":{"wifi":null}}})");
  r.role = Role::Light;
  r.light_mode = "auto";
  r.light_brightness = 80;
  r.light_seq = 7;
  r.light_command_id = "5b0c2f1e-8a47-4d6b-9c3e-2f7a1d9e0b64";
  r.clear_desired_wifi = false;
  r.config_errors.clear();
  JsonValue v = parse(gp::encode_reported(r));
  const JsonValue* rep = v.get("state")->get("reported");
  // state.reported.light: the counterpart of desired.light (no delta once applied).
  JsonValue light =
      parse(R"({"action":"auto","brightness":80,"seq":7,"command_id":"5b0c2f1e-8a47-4d6b-9c3e-2f7a1d9e0b64"})");
  ASSERT_NE(rep->get("light"), nullptr);
  EXPECT_TRUE(gp::json_equal(*rep->get("light"), light));
  EXPECT_EQ(rep->get("lamp_min_current_ma")->as_int(), 50);
  EXPECT_TRUE(rep->get("config_errors")->is_null());
  EXPECT_EQ(v.get("state")->get("desired"), nullptr);
}

TEST(ShadowVersionGate, AppliesEachVersionOnce) {
  gp::ShadowVersionGate gate;
  EXPECT_TRUE(gate.accept(5));
  EXPECT_FALSE(gate.accept(5));
  EXPECT_FALSE(gate.accept(4));
  EXPECT_TRUE(gate.accept(9));
  gate.reset();
  EXPECT_TRUE(gate.accept(1));
}

TEST(Config, LoadSaveRoundTripAndOutOfRangeFallsBack) {
  gp::MemoryKv kv;
  DeviceConfig cfg;
  cfg.sample_interval_s = 15;
  cfg.batch_size = 40;
  gp::save_config(kv, cfg);
  DeviceConfig back;
  gp::load_config(kv, back);
  EXPECT_EQ(back, cfg);
  kv.numbers["cfg_batch"] = 0;
  gp::load_config(kv, back);
  EXPECT_EQ(back.batch_size, 10u);
}
