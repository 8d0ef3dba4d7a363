// light/main.cpp against host_stubs/: a command switches the relay and the
// dimmer; no lamp current means {"status":"error","error_details":"Bulb failed"}.
#include <gtest/gtest.h>

#include <string>

#include "host_sim.h"

void setup();
void loop();

namespace {
const char* const kThing = "gp-7d2c9e10-3a4b-4c5d-8e6f-1a2b3c4d5e6f";

void run_ms(uint64_t ms) {
  const uint64_t until = host_sim::world().now_us + ms * 1000;
  while (host_sim::world().now_us < until) loop();
}
}  // namespace

TEST(LightSketch, FollowsCommandsAndReportsStatus) {
  host_sim::reset();
  host_sim::provision(kThing, "hotel-wifi", "wifi-pass-1");
  auto& w = host_sim::world();
  w.epoch_at_boot = 1795341600;
  w.adc_mv[36] = 2500;  // daylight on the LDR
  w.pzem.current_ma = 0;
  setup();
  run_ms(5000);
  const std::string status = "gridpulse/" + std::string(kThing) + "/status";
  const std::string commands = "gridpulse/" + std::string(kThing) + "/commands";
  ASSERT_TRUE(w.mqtt_connected);
  EXPECT_EQ(w.subscriptions.back(), commands);
  ASSERT_FALSE(host_sim::published_on(status).empty());
  EXPECT_EQ(host_sim::published_on(status).back().payload, R"({"status":"off"})");
  EXPECT_EQ(w.gpio[26], 0);

  w.pzem.current_ma = 380;
  w.to_device.emplace_back(commands, R"({"command_id":"cmd-1","seq":1,"action":"on","brightness":50})");
  run_ms(6000);
  EXPECT_EQ(w.gpio[26], 1);
  EXPECT_EQ(w.ledc_duty[0], 511u);  // 50 % of 10 bits
  EXPECT_EQ(host_sim::published_on(status).back().payload, R"({"status":"on","command_id":"cmd-1"})");

  w.pzem.current_ma = 0;
  run_ms(6000);
  EXPECT_EQ(host_sim::published_on(status).back().payload, R"({"status":"error","error_details":"Bulb failed","command_id":"cmd-1"})");

  w.to_device.emplace_back(commands, "not json at all");
  run_ms(1000);
  EXPECT_NE(w.serial_out.find("command ignored: not JSON"), std::string::npos);
  EXPECT_EQ(w.gpio[26], 1);

  w.to_device.emplace_back(commands, R"({"command_id":"cmd-2","seq":2,"action":"auto"})");
  run_ms(3000);
  EXPECT_EQ(w.gpio[26], 0);  // daylight
  EXPECT_EQ(host_sim::published_on(status).back().payload, R"({"status":"off","command_id":"cmd-2"})");
}
