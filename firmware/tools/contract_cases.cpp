#include "contract_cases.h"

#include <memory>

#include "gp/energy.h"
#include "gp/kv.h"
#include "gp/node.h"
#include "gp/ring_log.h"
#include "gp/sensor.h"
#include "gp/testing/fake_flash.h"
#include "gp/testing/fakes.h"
#include "gp/timefmt.h"
#include "gp/uplink.h"

namespace gpcontract {

using namespace gp;
using namespace gp::testing;

const long long kStartEpoch = 1795341600;  // 2026-11-22T10:00:00Z

namespace {

constexpr uint8_t kCt = 0, kNtc = 1;
constexpr int32_t kNtcMv = 1500;  // about 29 deg C

// The k-th 30 s sample of a household circuit: a few hundred watts, drifting.
pzem::Measurement household(uint32_t k, int64_t energy_mwh) {
  pzem::Measurement m;
  m.voltage_dv = 2301 + static_cast<int32_t>(k % 7) - 3;
  m.current_ma = 1234 + static_cast<int32_t>((k * 37) % 400);
  m.power_factor_c = 98 - static_cast<int32_t>(k % 3);
  m.power_dw = static_cast<int32_t>(static_cast<int64_t>(m.voltage_dv) * m.current_ma * m.power_factor_c / 100000);
  m.energy_wh = energy_mwh / 1000;
  m.frequency_dhz = 500 + static_cast<int32_t>(k % 3) - 1;
  return m;
}

// A meter: the real sensor, flash log and runtime on fake ports.
struct MeterRig {
  FakePzemPort uart;
  FakeAnalog adc;
  MemoryKv kv;
  FakeFlash flash{16};
  RingLog log{flash};
  std::unique_ptr<EnergyCounter> energy;
  std::unique_ptr<PzemClient> pzem;
  std::unique_ptr<MeterSensor> sensor;
  ManualClock clock;
  FakeNetwork net;
  ScriptedRandom rng;
  std::unique_ptr<Node> node;
  int64_t energy_mwh = 1234567000;

  explicit MeterRig(Role role = Role::Meter) {
    adc.mv[kNtc] = kNtcMv;
    clock.epoch_at_zero = kStartEpoch;
    kv.put_string(keys::kWifiSsid, "hotel-wifi");
    kv.put_string(keys::kWifiPass, "wifi-pass-1");
    energy.reset(new EnergyCounter(&kv));
    pzem.reset(new PzemClient(uart));
    MeterSensorSettings ms;
    ms.ct_channel = kCt;
    ms.ntc_channel = kNtc;
    sensor.reset(new MeterSensor(*pzem, adc, *energy, ms));
    log.mount();
    (void)role;
  }

  void start_node(Role role, LampDriver* lamp = nullptr) {
    Identity id{"gp-3f6c1a52-9d1e-4c1b-8a8e-0c2b7d9e4f10", role, "1.0.0"};
    NodeDeps deps{net, clock, *sensor, log, kv, rng, nullptr, lamp};
    node.reset(new Node(id, deps));
    node->begin();
  }

  // Runs the device for `seconds`, one loop a second, with a drifting load.
  void run(uint32_t seconds) {
    for (uint32_t s = 0; s < seconds; ++s) {
      const uint32_t k = clock.ms / 30000;
      uart.m = household(k, energy_mwh);
      node->loop();
      clock.advance(1000);
      energy_mwh += static_cast<int64_t>(uart.m.power_dw) * 1000 / 36000;  // dW over 1 s -> mWh
    }
  }

  std::vector<std::string> telemetry() const { return net.payloads_on(node->topics().telemetry); }
};

// Sensor + flash log + uplink without the runtime: one message of `count` readings.
std::string sensor_message(MeterRig& rig, const std::vector<pzem::Measurement>& answers, bool pzem_present,
                           double ct_rms_mv) {
  Uplink uplink(rig.log, "t");
  UplinkSettings s;
  s.batch_size = static_cast<uint32_t>(answers.size());
  uplink.set_settings(s);
  rig.uart.present = pzem_present;
  rig.adc.ac_rms_mv[kCt] = ct_rms_mv;
  for (size_t i = 0; i < answers.size(); ++i) {
    rig.uart.m = answers[i];
    Reading r;
    rig.sensor->measure(r, i == 0 ? 0 : 30000);
    r.epoch_s = kStartEpoch + static_cast<int64_t>(30 * i);
    uplink.store(r);
  }
  CapturePublisher pub;
  uplink.pump(pub, kStartEpoch + static_cast<int64_t>(30 * answers.size()), 1);
  return pub.messages.empty() ? std::string() : pub.messages[0].second;
}

}  // namespace

std::vector<ContractCase> contract_cases() {
  std::vector<ContractCase> out;

  {  // The recorded PZEM answer (tests/frames/pzem_read_ok.hex), alone in a message.
    MeterRig rig;
    pzem::Measurement m;
    m.voltage_dv = 2301;
    m.current_ma = 1234;
    m.power_dw = 2783;
    m.energy_wh = 1234567;
    m.frequency_dhz = 500;
    m.power_factor_c = 98;
    out.push_back({"single_reading", "telemetry/single_reading.json", "telemetry", sensor_message(rig, {m}, true, 0),
                   "tests/frames/pzem_read_ok.hex + NTC at 1500 mV, 2026-11-22T10:00:00Z, batch_size 1"});
  }
  {  // Steady state: the first message of a meter that samples every 30 s, 10 a message.
    MeterRig rig;
    rig.start_node(Role::Meter);
    rig.run(300);
    out.push_back({"batch", "telemetry/batch.json", "telemetry", rig.telemetry().at(0),
                   "a meter online from 10:00:00, default settings: 10 readings 30 s apart"});
  }
  {  // Three hours without the broker, then the first message of the backlog.
    MeterRig rig;
    rig.start_node(Role::Meter);
    rig.run(290);
    rig.net.broker_up = false;
    rig.run(3 * 3600);
    const size_t before = rig.telemetry().size();
    rig.net.broker_up = true;
    rig.run(600);
    out.push_back({"backlog_batch", "telemetry/backlog_batch.json", "telemetry", rig.telemetry().at(before),
                   "broker unreachable 10:04:50-13:04:50: the oldest stored readings, as many as fit in 5 KB"});
  }
  {  // The PZEM stopped answering: current from the CT clamp, energy carried on by estimation.
    MeterRig rig;
    rig.kv.put_i64(keys::kEnergyOffset, 0);
    rig.kv.put_i64(keys::kEnergyLastRaw, 1234567);
    rig.kv.put_i64(keys::kEnergyTotal, 1234567);
    rig.energy.reset(new EnergyCounter(&rig.kv));
    MeterSensorSettings ms;
    ms.ct_channel = kCt;
    ms.ntc_channel = kNtc;
    rig.sensor.reset(new MeterSensor(*rig.pzem, rig.adc, *rig.energy, ms));
    out.push_back({"adc_fallback", "telemetry/adc_fallback.json", "telemetry",
                   sensor_message(rig, std::vector<pzem::Measurement>(3), false, 41.0),
                   "no PZEM answer; CT clamp at 41 mV RMS (SCT-013-030); last counter 1234567 Wh"});
  }
  {  // The PZEM's own counter went back to zero between the 2nd and 3rd reading.
    MeterRig rig;
    std::vector<pzem::Measurement> answers;
    const int64_t counters[] = {1234567, 1234570, 2, 5};
    for (uint32_t k = 0; k < 4; ++k) {
      pzem::Measurement m = household(k, 0);
      m.energy_wh = counters[k];
      answers.push_back(m);
    }
    out.push_back({"energy_counter_reset", "telemetry/energy_counter_reset.json", "telemetry",
                   sensor_message(rig, answers, true, 0),
                   "PZEM counter 1234567, 1234570, 2, 5 Wh: the reported counter keeps rising"});
  }
  {  // A street light in daylight: off; "on" by command; no lamp current; "off" by command.
    MeterRig rig;
    FakeLamp lamp;
    lamp.ambient = 2000;
    rig.start_node(Role::Light, &lamp);
    rig.run(5);
    // As gridpulse.lights.service.send_command publishes them (issued_at is ignored by the lamp).
    rig.net.to_device.emplace_back(rig.node->topics().commands,
                                   R"({"command_id":"5b0c2f1e-8a47-4d6b-9c3e-2f7a1d9e0b64","seq":1,)"
                                   R"("action":"on","brightness":80,"issued_at":"2026-11-22T10:00:05.000Z"})");
    rig.run(2);
    for (uint32_t i = 0; i < 8; ++i) {
      rig.uart.present = true;
      rig.clock.advance(1000);
      rig.uart.m.current_ma = 0;  // no lamp current: the bulb is gone
      rig.node->loop();
    }
    rig.net.to_device.emplace_back(rig.node->topics().commands,
                                   R"({"command_id":"c81d4e2a-6f3b-4a95-8e17-0d2b5c9f3a76","seq":2,)"
                                   R"("action":"off","brightness":80,"issued_at":"2026-11-22T10:00:15.000Z"})");
    rig.run(1);
    const std::vector<std::string> status = rig.net.payloads_on(rig.node->topics().status);
    auto find = [&](const char* needle) {  // the last report with that status: the one a command caused
      for (auto it = status.rbegin(); it != status.rend(); ++it)
        if (it->find(needle) != std::string::npos) return *it;
      return std::string();
    };
    out.push_back({"light_on", "status/light_on.json", "status", find("\"on\""),
                   "command {\"action\":\"on\",\"seq\":1,...}: the report carries its command_id"});
    out.push_back({"light_error_bulb_failed", "status/light_error_bulb_failed.json", "status", find("\"error\""),
                   "switched on by seq 1, no lamp current for 3 checks after the 3 s warm-up"});
    out.push_back({"light_off", "status/light_off.json", "status", find("\"off\""),
                   "command {\"action\":\"off\",\"seq\":2,...}: the report carries its command_id"});
  }
  return out;
}

}  // namespace gpcontract
