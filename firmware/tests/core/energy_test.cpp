#include <gtest/gtest.h>

#include "gp/analog.h"
#include "gp/energy.h"
#include "gp/sensor.h"
#include "gp/testing/fakes.h"

using gp::EnergyCounter;
using gp::MemoryKv;

namespace {
constexpr uint32_t k30s = 30000;
}

TEST(EnergyCounter, FollowsTheSensorCounter) {
  MemoryKv kv;
  EnergyCounter e(&kv);
  EXPECT_EQ(e.on_sensor_counter(1234567, 0), 1234567);
  EXPECT_EQ(e.on_sensor_counter(1234569, k30s), 1234569);
  EXPECT_EQ(e.on_sensor_counter(1234569, k30s), 1234569);
  EXPECT_EQ(e.resets(), 0u);
}

TEST(EnergyCounter, ACounterResetKeepsTheTotalRising) {
  gp::testing::LogCapture logs;
  MemoryKv kv;
  EnergyCounter e(&kv);
  e.on_sensor_counter(1234567, 0);
  e.on_sensor_counter(1234570, k30s);
  // The module was reset (or replaced): its counter starts again from zero.
  EXPECT_EQ(e.on_sensor_counter(2, k30s), 1234572);
  EXPECT_EQ(e.on_sensor_counter(5, k30s), 1234575);
  EXPECT_EQ(e.resets(), 1u);
  EXPECT_TRUE(logs.contains("counter reset"));
  // Persisted at once: a reboot right now neither loses the offset nor sees another reset.
  EnergyCounter after_reboot(&kv);
  EXPECT_EQ(after_reboot.total_wh(), 1234572);  // as of the reset; the next reading catches up
  EXPECT_EQ(after_reboot.on_sensor_counter(6, 0), 1234576);
  EXPECT_EQ(after_reboot.resets(), 0u);
}

TEST(EnergyCounter, AnImplausibleJumpIsNotCountedUntilItRepeatsConsistently) {
  gp::testing::LogCapture logs;
  MemoryKv kv;
  EnergyCounter e(&kv);  // at most 25 kW: about 210 Wh in 30 s
  e.on_sensor_counter(1000, 0);
  EXPECT_EQ(e.on_sensor_counter(900000, k30s), -1);
  EXPECT_EQ(e.on_sensor_counter(1010, k30s), 1010);  // a glitch: back to normal
  EXPECT_EQ(e.rejected(), 1u);
  // A used module fitted while the device was off: a new level that stays.
  EXPECT_EQ(e.on_sensor_counter(500000, k30s), -1);
  EXPECT_EQ(e.on_sensor_counter(500003, k30s), -1);
  EXPECT_EQ(e.on_sensor_counter(500006, k30s), 1010);  // re-baselined: the jump itself counts nothing
  EXPECT_EQ(e.on_sensor_counter(500010, k30s), 1014);
  EXPECT_TRUE(logs.contains("re-baselined"));
}

TEST(EnergyCounter, FallbackEstimateIsReplacedByTheMeasurementWithoutGoingDown) {
  MemoryKv kv;
  EnergyCounter e(&kv);
  e.on_sensor_counter(10000, 0);
  // 2 minutes at 1200 W estimated from the CT: 40 Wh.
  int64_t t = 0;
  for (int i = 0; i < 4; ++i) t = e.on_estimated_power(12000, k30s);
  EXPECT_EQ(t, 10040);
  // The PZEM is back and measured 35 Wh over the same time: the total does not drop.
  EXPECT_EQ(e.on_sensor_counter(10035, 5 * k30s), 10040);
  EXPECT_EQ(e.on_sensor_counter(10045, k30s), 10050);
  // Another outage where the PZEM (still counting) measured more than the estimate: no double count.
  for (int i = 0; i < 2; ++i) t = e.on_estimated_power(12000, k30s);
  EXPECT_EQ(t, 10070);
  EXPECT_EQ(e.on_sensor_counter(10085, 3 * k30s), 10090);
}

TEST(EnergyCounter, PersistsEveryFewUpdates) {
  MemoryKv kv;
  EnergyCounter::Settings s;
  s.persist_every = 5;
  EnergyCounter e(&kv, s);
  e.on_sensor_counter(100, 0);
  const int writes = kv.writes;
  for (int i = 1; i <= 4; ++i) e.on_sensor_counter(100 + i, k30s);
  EXPECT_EQ(kv.writes, writes);
  e.on_sensor_counter(105, k30s);
  EXPECT_GT(kv.writes, writes);
  EXPECT_EQ(kv.numbers["e_last_raw"], 105);
}

TEST(Analog, CtRmsAndNoiseFloor) {
  gp::testing::FakeAnalog adc;
  adc.ac_rms_mv[0] = 100.0;
  uint16_t s[200];
  ASSERT_TRUE(adc.burst_mv(0, s, 200, 40));
  const double rms = gp::ac_rms_mv(s, 200);
  EXPECT_NEAR(rms, 100.0, 0.5);
  gp::CtSettings ct;
  EXPECT_NEAR(gp::ct_current_ma(rms, ct), 3000, 20);  // 100 mV at 33.33 mV/A
  EXPECT_EQ(gp::ct_current_ma(1.0, ct), 0);           // 30 mA of noise reads as nothing
  EXPECT_EQ(gp::ac_rms_mv(s, 0), 0.0);
}

TEST(Analog, NtcTemperature) {
  gp::NtcSettings ntc;
  EXPECT_EQ(gp::ntc_temperature_dc(1650, ntc), 250);       // R = R0: 25.0 C
  EXPECT_NEAR(gp::ntc_temperature_dc(1500, ntc), 292, 1);  // warmer: lower resistance
  EXPECT_LT(gp::ntc_temperature_dc(2800, ntc), 0);         // cold
  EXPECT_EQ(gp::ntc_temperature_dc(0, ntc), gp::kNoValue);     // shorted
  EXPECT_EQ(gp::ntc_temperature_dc(3300, ntc), gp::kNoValue);  // open
}

TEST(MeterSensor, UsesThePzemThenTheCtFallbackThenThePzemAgain) {
  gp::testing::LogCapture logs;
  gp::testing::FakePzemPort port;
  gp::testing::FakeAnalog adc;
  adc.mv[1] = 1650;
  adc.ac_rms_mv[0] = 41.0;
  MemoryKv kv;
  EnergyCounter energy(&kv);
  gp::PzemClient pzem(port);
  gp::MeterSensor sensor(pzem, adc, energy);
  port.m.voltage_dv = 2301;
  port.m.current_ma = 1230;
  port.m.power_dw = 2774;
  port.m.energy_wh = 5000;
  port.m.frequency_dhz = 500;
  port.m.power_factor_c = 98;
  gp::Reading r;
  ASSERT_TRUE(sensor.measure(r, 0));
  EXPECT_EQ(r.fields, gp::kAllFields);
  EXPECT_EQ(r.energy_wh, 5000);
  EXPECT_EQ(r.temperature_dc, 250);

  port.present = false;
  ASSERT_TRUE(sensor.measure(r, 30000));
  EXPECT_TRUE(sensor.on_fallback());
  EXPECT_FALSE(r.has(gp::kVoltage));  // not measured: not reported
  EXPECT_FALSE(r.has(gp::kPowerFactor));
  EXPECT_NEAR(r.current_ma, 1230, 15);
  EXPECT_NEAR(r.power_dw, 2830, 40);  // nominal 230 V x I
  EXPECT_EQ(r.energy_wh, 5002);
  EXPECT_TRUE(logs.contains("ADC fallback"));

  port.present = true;
  port.m.energy_wh = 5003;
  ASSERT_TRUE(sensor.measure(r, 30000));
  EXPECT_FALSE(sensor.on_fallback());
  EXPECT_EQ(r.energy_wh, 5003);
  EXPECT_TRUE(logs.contains("PZEM answers again"));

  port.m.voltage_dv = 0;  // mains gone: the PZEM says 0 Hz, which is not a frequency
  port.m.frequency_dhz = 0;
  ASSERT_TRUE(sensor.measure(r, 30000));
  EXPECT_FALSE(r.has(gp::kFrequency));
  EXPECT_TRUE(r.has(gp::kVoltage));
}
