#include <gtest/gtest.h>

#include <random>

#include "gp/telemetry.h"
#include "gp/timefmt.h"

namespace {

gp::Reading full(uint32_t seq, int64_t epoch) {
  gp::Reading r;
  r.seq = seq;
  r.epoch_s = epoch;
  r.set_voltage_dv(2301).set_current_ma(1234).set_power_dw(2783).set_energy_wh(1234567);
  r.set_temperature_dc(292).set_power_factor_c(98).set_frequency_dhz(500);
  return r;
}

}  // namespace

TEST(Time, FormatsIso8601Utc) {
  char buf[24];
  ASSERT_TRUE(gp::format_iso8601(1795341600, buf, sizeof buf));
  EXPECT_STREQ(buf, "2026-11-22T10:00:00Z");
  ASSERT_TRUE(gp::format_iso8601(951782400, buf, sizeof buf));  // leap day 2000
  EXPECT_STREQ(buf, "2000-02-29T00:00:00Z");
  ASSERT_TRUE(gp::format_iso8601(0, buf, sizeof buf));
  EXPECT_STREQ(buf, "1970-01-01T00:00:00Z");
  EXPECT_FALSE(gp::format_iso8601(-1, buf, sizeof buf));
  EXPECT_FALSE(gp::format_iso8601(0, buf, 20));
}

TEST(Time, ParseRoundTripsEverySecondOfADayAndManyDays) {
  char buf[24];
  for (int64_t t = 1704067200; t < 1704067200 + 86400 * 800LL; t += 86400 + 3607) {
    ASSERT_TRUE(gp::format_iso8601(t, buf, sizeof buf));
    int64_t back = 0;
    ASSERT_TRUE(gp::parse_iso8601(buf, back)) << buf;
    EXPECT_EQ(back, t) << buf;
  }
  int64_t t;
  EXPECT_TRUE(gp::parse_iso8601("2026-11-22T10:00:00.123Z", t));
  EXPECT_EQ(t, 1795341600);
  EXPECT_FALSE(gp::parse_iso8601("2026-11-22 10:00:00Z", t));
  EXPECT_FALSE(gp::parse_iso8601("2026-11-22T10:00:00+01:00", t));
  EXPECT_FALSE(gp::epoch_valid(42));
  EXPECT_TRUE(gp::epoch_valid(1795341600));
}

TEST(Telemetry, EncodesAReadingWithFieldsInContractOrder) {
  EXPECT_EQ(gp::encode_reading(full(42, 1795341600)),
            R"({"timestamp":"2026-11-22T10:00:00Z","seq":42,"voltage":230.1,"current":1.234,"power_w":278.3,)"
            R"("energy_kwh":1234.567,"temperature":29.2,"power_factor":0.98,"frequency":50.0})");
}

TEST(Telemetry, LeavesOutAbsentFields) {
  gp::Reading r;
  r.seq = 3;
  r.epoch_s = 1795341600;
  r.set_current_ma(500);
  EXPECT_EQ(gp::encode_reading(r), R"({"timestamp":"2026-11-22T10:00:00Z","seq":3,"current":0.5})");
}

TEST(Telemetry, EncodeDecodeRoundTrip) {
  std::mt19937 rng(7);
  std::vector<gp::Reading> readings;
  for (uint32_t i = 0; i < 200; ++i) {
    gp::Reading r;
    r.seq = rng();
    r.epoch_s = 1704067200 + static_cast<int64_t>(rng() % 100000000);
    if (rng() % 2) r.set_voltage_dv(static_cast<int32_t>(rng() % 5001));
    if (rng() % 2) r.set_current_ma(static_cast<int32_t>(rng() % 400001));
    if (rng() % 2) r.set_power_dw(static_cast<int32_t>(rng() % 2500001));
    if (rng() % 2) r.set_energy_wh(static_cast<int64_t>(rng()) * 1000 + rng() % 1000);
    if (rng() % 2) r.set_temperature_dc(static_cast<int32_t>(rng() % 2001) - 500);
    if (rng() % 2) r.set_power_factor_c(static_cast<int32_t>(rng() % 201) - 100);
    if (rng() % 2) r.set_frequency_dhz(400 + static_cast<int32_t>(rng() % 301));
    readings.push_back(r);
  }
  for (const gp::Reading& r : readings) {
    const std::string json = gp::encode_reading(r);
    std::vector<gp::Reading> back;
    std::string err;
    ASSERT_TRUE(gp::decode_message(json.data(), json.size(), back, &err)) << err << " " << json;
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0], r) << json;
    uint8_t rec[gp::kRecordPayloadSize];
    ASSERT_EQ(gp::encode_record(r, rec, sizeof rec), gp::kRecordPayloadSize);
    gp::Reading from_flash;
    ASSERT_TRUE(gp::decode_record(rec, sizeof rec, r.seq, from_flash));
    EXPECT_EQ(from_flash, r);
  }
  const std::string batch = gp::encode_batch(readings.data(), 50);
  std::vector<gp::Reading> back;
  ASSERT_TRUE(gp::decode_message(batch.data(), batch.size(), back));
  ASSERT_EQ(back.size(), 50u);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(back[i], readings[i]);
}

TEST(Telemetry, DecodeRefusesWhatTheCloudRefuses) {
  std::vector<gp::Reading> out;
  std::string err;
  const std::string unknown = R"({"timestamp":"2026-11-22T10:00:00Z","seq":1,"rssi":-60})";
  EXPECT_FALSE(gp::decode_message(unknown.data(), unknown.size(), out, &err));
  const std::string empty = R"({"readings":[]})";
  EXPECT_FALSE(gp::decode_message(empty.data(), empty.size(), out, &err));
  const std::string negative = R"({"seq":-1,"voltage":1})";
  EXPECT_FALSE(gp::decode_message(negative.data(), negative.size(), out, &err));
}

TEST(Telemetry, RecordDecodeRefusesOtherFormats) {
  uint8_t rec[gp::kRecordPayloadSize];
  gp::encode_record(full(1, 1795341600), rec, sizeof rec);
  gp::Reading r;
  EXPECT_FALSE(gp::decode_record(rec, sizeof rec - 1, 1, r));
  rec[0] = 2;
  EXPECT_FALSE(gp::decode_record(rec, sizeof rec, 1, r));
}

TEST(Telemetry, PackMessageStaysWithinTheByteBudgetAndKeepsOrder) {
  std::vector<gp::Reading> readings;
  for (uint32_t i = 0; i < 100; ++i) readings.push_back(full(i, 1795341600 + 30 * i));
  std::string out;
  const size_t n = gp::pack_message(readings.data(), readings.size(), 100, gp::kMaxMessageBytes, out);
  EXPECT_GT(n, 20u);
  EXPECT_LT(n, 100u);
  EXPECT_LE(out.size(), gp::kMaxMessageBytes);
  std::vector<gp::Reading> back;
  ASSERT_TRUE(gp::decode_message(out.data(), out.size(), back));
  ASSERT_EQ(back.size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(back[i].seq, i);
  // One more reading would not have fitted.
  std::string bigger = gp::encode_batch(readings.data(), n + 1);
  EXPECT_GT(bigger.size(), gp::kMaxMessageBytes);
  // The count limit wins when it is smaller; a single reading is a bare object.
  EXPECT_EQ(gp::pack_message(readings.data(), readings.size(), 10, gp::kMaxMessageBytes, out), 10u);
  EXPECT_EQ(gp::pack_message(readings.data(), readings.size(), 1, gp::kMaxMessageBytes, out), 1u);
  EXPECT_EQ(out.front(), '{');
  EXPECT_EQ(out.find("readings"), std::string::npos);
  EXPECT_EQ(gp::pack_message(readings.data(), readings.size(), 600, 1000000, out), 100u);
}

TEST(Telemetry, SanitizeDropsValuesTheCloudWouldQuarantine) {
  gp::Reading r = full(1, 1795341600);
  r.set_frequency_dhz(0);       // PZEM without mains voltage
  r.set_temperature_dc(-2731);  // open NTC
  const uint16_t removed = gp::sanitize(r);
  EXPECT_EQ(removed, gp::kFrequency | gp::kTemperature);
  EXPECT_FALSE(r.has(gp::kFrequency));
  EXPECT_TRUE(r.has(gp::kVoltage));
  gp::Reading ok = full(1, 1795341600);
  EXPECT_EQ(gp::sanitize(ok), 0);
}

TEST(Telemetry, StatusPayloads) {
  EXPECT_EQ(gp::encode_status(gp::LampStatus::On), R"({"status":"on"})");
  EXPECT_EQ(gp::encode_status(gp::LampStatus::Off, "ignored"), R"({"status":"off"})");
  EXPECT_EQ(gp::encode_status(gp::LampStatus::Error, "Bulb failed"),
            R"({"status":"error","error_details":"Bulb failed"})");
}
