// meter/main.cpp as it is, compiled against host_stubs/: setup() and loop()
// with a simulated PZEM on Serial2, NVS, the rbuf partition, Wi-Fi and broker.
#include <gtest/gtest.h>

#include <string>

#include "gp/telemetry.h"
#include "host_sim.h"

void setup();
void loop();

namespace {
const char* const kThing = "gp-0b8f2a44-5c1d-4e7a-9f3b-2d6e8a1c7f90";

void run_ms(uint64_t ms) {
  const uint64_t until = host_sim::world().now_us + ms * 1000;
  while (host_sim::world().now_us < until) loop();  // loop() delays 10 ms
}
}  // namespace

// One test: the sketch's globals (the App) live for the whole process, like on the board.
TEST(MeterSketch, BootsConnectsAndPublishesBatchesThroughAnOutage) {
  host_sim::reset();
  host_sim::provision(kThing, "hotel-wifi", "wifi-pass-1");
  host_sim::world().epoch_at_boot = 1795341600;
  host_sim::world().adc_mv[35] = 1650;
  setup();
  EXPECT_TRUE(host_sim::world().wdt_initialised);
  run_ms(5000);
  auto& w = host_sim::world();
  EXPECT_TRUE(w.mqtt_connected);
  EXPECT_EQ(w.broker_host, "abc123-ats.iot.eu-west-1.amazonaws.com");
  EXPECT_TRUE(w.tls_has_ca && w.tls_has_cert && w.tls_has_key);
  EXPECT_EQ(w.gpio[2], 1);  // status LED: online
  EXPECT_EQ(host_sim::published_on("$aws/things/" + std::string(kThing) + "/shadow/get").size(), 1u);

  run_ms(300 * 1000);
  const std::string topic = "gridpulse/" + std::string(kThing) + "/telemetry";
  auto msgs = host_sim::published_on(topic);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].qos, 1);
  std::vector<gp::Reading> readings;
  ASSERT_TRUE(gp::decode_message(msgs[0].payload.data(), msgs[0].payload.size(), readings));
  ASSERT_EQ(readings.size(), 10u);
  EXPECT_EQ(readings[0].voltage_dv, 2301);
  EXPECT_EQ(readings[0].energy_wh, 1234567);
  EXPECT_EQ(readings[0].temperature_dc, 250);
  EXPECT_EQ(readings[0].epoch_s, 1795341600);

  // The broker goes away for an hour; the readings wait in the rbuf partition.
  w.broker_up = false;
  run_ms(3600 * 1000);
  EXPECT_FALSE(w.mqtt_connected);
  w.broker_up = true;
  run_ms(600 * 1000);
  std::vector<gp::Reading> all;
  for (const auto& m : host_sim::published_on(topic)) {
    std::vector<gp::Reading> part;
    ASSERT_TRUE(gp::decode_message(m.payload.data(), m.payload.size(), part));
    all.insert(all.end(), part.begin(), part.end());
  }
  ASSERT_GT(all.size(), 140u);  // 4505 s of readings, less the partial batch still waiting
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].seq, i);
  // Nothing secret reached the serial console.
  EXPECT_EQ(w.serial_out.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(w.serial_out.find("wifi-pass-1"), std::string::npos);
  EXPECT_NE(w.serial_out.find("connected to IoT Core"), std::string::npos);
  EXPECT_GT(w.wdt_feeds, 1000u);
}
