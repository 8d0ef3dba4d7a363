#include <gtest/gtest.h>

#include "gp/commands.h"
#include "gp/light.h"
#include "gp/testing/fakes.h"

using gp::LightCommand;
using gp::LightMode;

namespace {
bool parse(const std::string& s, LightCommand& c) { return gp::parse_light_command(s.data(), s.size(), c); }
}  // namespace

TEST(LightCommands, ParsesTheThreeActions) {
  LightCommand c;
  // What gridpulse.lights.service.send_command publishes.
  ASSERT_TRUE(parse(R"({"command_id":"5b0c2f1e-8a47-4d6b-9c3e-2f7a1d9e0b64","seq":12,"action":"on",)"
                    R"("brightness":80,"issued_at":"2026-11-22T10:00:05.000Z"})",
                    c));
  EXPECT_EQ(c.action, LightMode::On);
  EXPECT_EQ(c.brightness, 80);
  EXPECT_EQ(c.seq, 12);
  EXPECT_EQ(c.command_id, "5b0c2f1e-8a47-4d6b-9c3e-2f7a1d9e0b64");
  ASSERT_TRUE(parse(R"({"action":"off","seq":1})", c));
  EXPECT_EQ(c.action, LightMode::Off);
  EXPECT_EQ(c.brightness, -1);
  EXPECT_EQ(c.command_id, "");
  ASSERT_TRUE(parse(R"({"action":"auto","brightness":0,"seq":3,"extra":[1]})", c));  // extra keys tolerated
  EXPECT_EQ(c.action, LightMode::Auto);
  EXPECT_EQ(c.brightness, 0);
  ASSERT_TRUE(parse(R"({"action":"on","brightness":100.0,"seq":4})", c));
  EXPECT_EQ(c.brightness, 100);
}

TEST(LightCommands, MalformedCommandsAreIgnoredWithALogLine) {
  struct Case {
    std::string payload;
    std::string log;
  };
  const Case cases[] = {
      {"", "not JSON"},
      {"on", "not JSON"},
      {R"({"action":"on")", "not JSON"},
      {R"(["on"])", "not a JSON object"},
      {R"({"brightness":50})", "no action"},
      {R"({"action":"ON"})", "action must be"},
      {R"({"action":"blink"})", "action must be"},
      {R"({"action":1})", "action must be"},
      {R"({"action":"on","brightness":101})", "brightness must be"},
      {R"({"action":"on","brightness":-1})", "brightness must be"},
      {R"({"action":"on","brightness":50.5})", "brightness must be"},
      {R"({"action":"on","brightness":"50"})", "brightness must be"},
      {R"({"action":"on","brightness":null})", "brightness must be"},
      {std::string(600, ' '), "too large"},
      {R"({"action":"on","brightness":50})", "seq must be"},
      {R"({"action":"on","seq":0})", "seq must be"},
      {R"({"action":"on","seq":-3})", "seq must be"},
      {R"({"action":"on","seq":"7"})", "seq must be"},
      {R"({"action":"on","seq":7.5})", "seq must be"},
      {R"({"action":"on","seq":null})", "seq must be"},
      {R"({"action":"dim","seq":7})", "action must be"},
      {R"({"action":"on","brightness":250,"seq":7})", "brightness must be"},
      {R"({"action":"on","seq":7,"command_id":42})", "command_id must be"},
      {R"({"action":"on","seq":7,"command_id":""})", "command_id must be"},
      {R"({"action":"on","seq":7,"command_id":")" + std::string(65, 'a') + "\"}", "command_id must be"},
  };
  for (const Case& c : cases) {
    gp::testing::LogCapture logs;
    LightCommand out;
    out.action = LightMode::Auto;
    EXPECT_FALSE(parse(c.payload, out)) << c.payload;
    EXPECT_EQ(out.action, LightMode::Auto) << "a refused command changes nothing";
    ASSERT_EQ(logs.lines.size(), 1u) << c.payload;
    EXPECT_NE(logs.lines[0].find("W command: command ignored"), std::string::npos) << logs.lines[0];
    EXPECT_NE(logs.lines[0].find(c.log), std::string::npos) << logs.lines[0];
  }
}

TEST(LightController, SwitchesDimsAndReportsABulbFailure) {
  gp::LightController light;
  light.restore(LightMode::Off, 100);
  EXPECT_TRUE(light.update(0, gp::kNoValue, gp::kNoValue));  // the first status is always reported
  EXPECT_EQ(light.status(), gp::LampStatus::Off);
  light.apply(LightCommand{LightMode::On, 60});
  EXPECT_TRUE(light.update(1000, gp::kNoValue, gp::kNoValue));
  EXPECT_EQ(light.status(), gp::LampStatus::On);
  EXPECT_TRUE(light.outputs().relay);
  EXPECT_EQ(light.outputs().duty_percent, 60);
  // No current during the warm-up is fine; after it, three bad checks make an error.
  EXPECT_FALSE(light.update(2000, gp::kNoValue, 0));
  EXPECT_FALSE(light.update(4000, gp::kNoValue, 0));
  EXPECT_FALSE(light.update(5000, gp::kNoValue, 0));
  EXPECT_TRUE(light.update(6000, gp::kNoValue, 0));
  EXPECT_EQ(light.status(), gp::LampStatus::Error);
  EXPECT_STREQ(light.error_details(), "Bulb failed");
  EXPECT_FALSE(light.update(7000, gp::kNoValue, 0));  // reported once
  // The lamp was replaced: current flows again.
  EXPECT_TRUE(light.update(8000, gp::kNoValue, 350));
  EXPECT_EQ(light.status(), gp::LampStatus::On);
  EXPECT_EQ(light.error_details(), nullptr);
  light.apply(LightCommand{LightMode::Off, -1});
  EXPECT_TRUE(light.update(9000, gp::kNoValue, gp::kNoValue));
  EXPECT_EQ(light.status(), gp::LampStatus::Off);
  EXPECT_FALSE(light.outputs().relay);
  EXPECT_EQ(light.brightness(), 60);
}

TEST(LightController, AutoFollowsTheAmbientLightWithHysteresis) {
  gp::LightController light;
  light.restore(LightMode::Auto, 100);
  light.update(0, 2000, gp::kNoValue);  // daylight
  EXPECT_FALSE(light.outputs().relay);
  light.update(1000, 700, gp::kNoValue);  // dusk, but inside the hysteresis band
  EXPECT_FALSE(light.outputs().relay);
  light.update(2000, 300, gp::kNoValue);  // dark
  EXPECT_TRUE(light.outputs().relay);
  light.update(3000, 700, gp::kNoValue);  // a car's headlights: stays on
  EXPECT_TRUE(light.outputs().relay);
  light.update(4000, 1500, gp::kNoValue);  // morning
  EXPECT_FALSE(light.outputs().relay);
  gp::LightController unknown;  // no sensor reading at all: a street light stays lit
  unknown.update(0, gp::kNoValue, gp::kNoValue);
  EXPECT_TRUE(unknown.outputs().relay);
}

TEST(LightController, CurrentWhileOffIsAnError) {
  gp::LightController light;
  light.restore(LightMode::Off, 100);
  light.update(0, gp::kNoValue, gp::kNoValue);
  for (uint32_t t = 4000; t < 7000; t += 1000) light.update(t, gp::kNoValue, 400);
  EXPECT_EQ(light.status(), gp::LampStatus::Error);
  EXPECT_STREQ(light.error_details(), gp::kRelayStuck);
}
