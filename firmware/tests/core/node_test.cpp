// The runtime on fake ports: connection handling, store and forward across
// outages and reboots, shadow, Wi-Fi changes, lights, time before SNTP.
#include <gtest/gtest.h>

#include <memory>

#include "gp/node.h"
#include "gp/testing/fake_flash.h"
#include "gp/testing/fakes.h"
#include "gp/timefmt.h"

using namespace gp;
using namespace gp::testing;

namespace {

constexpr int64_t kT0 = 1795341600;  // 2026-11-22T10:00:00Z
const char* const kThing = "gp-3f6c1a52-9d1e-4c1b-8a8e-0c2b7d9e4f10";

struct Rig {
  FakeFlash flash{16};
  MemoryKv kv;
  FakePzemPort uart;
  FakeAnalog adc;
  ManualClock clock;
  FakeNetwork net;
  ScriptedRandom rng;
  CountingWatchdog wdt;
  FakeLamp lamp;
  std::unique_ptr<RingLog> log;
  std::unique_ptr<EnergyCounter> energy;
  std::unique_ptr<PzemClient> pzem;
  std::unique_ptr<MeterSensor> sensor;
  std::unique_ptr<Node> node;
  Role role;

  explicit Rig(Role r = Role::Meter) : role(r) {
    clock.epoch_at_zero = kT0;
    kv.put_string(keys::kWifiSsid, "hotel-wifi");
    kv.put_string(keys::kWifiPass, "wifi-pass-1");
    uart.m.voltage_dv = 2301;
    uart.m.current_ma = 1234;
    uart.m.power_dw = 2783;
    uart.m.energy_wh = 1000;
    uart.m.frequency_dhz = 500;
    uart.m.power_factor_c = 98;
    adc.mv[1] = 1650;
    boot();
  }

  // A power-on: everything in RAM is new, flash and NVS are what they were.
  void boot(const std::string& thing = kThing) {
    log.reset(new RingLog(flash));
    energy.reset(new EnergyCounter(&kv));
    pzem.reset(new PzemClient(uart));
    sensor.reset(new MeterSensor(*pzem, adc, *energy));
    Identity id{thing, role, "1.0.0"};
    NodeDeps deps{net, clock, *sensor, *log, kv, rng, &wdt, role == Role::Light ? &lamp : nullptr};
    node.reset(new Node(id, deps));
    node->begin();
  }

  void run_s(uint32_t seconds, uint32_t step_ms = 1000) {
    for (uint64_t t = 0; t < static_cast<uint64_t>(seconds) * 1000; t += step_ms) {
      node->loop();
      clock.advance(step_ms);
      uart.m.energy_wh += step_ms / 1000 % 2;  // a slowly rising counter
    }
  }

  std::vector<std::string> on(const std::string& topic) const { return net.payloads_on(topic); }
  std::vector<Reading> telemetry() const {
    std::vector<Reading> out;
    for (const std::string& p : on(node->topics().telemetry)) {
      std::vector<Reading> part;
      EXPECT_TRUE(decode_message(p.data(), p.size(), part)) << p;
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }
  void inject(const std::string& topic, const std::string& payload) { net.to_device.emplace_back(topic, payload); }
};

void expect_contiguous(const std::vector<Reading>& got, uint32_t first_seq, size_t count) {
  ASSERT_EQ(got.size(), count);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].seq, first_seq + i) << "reading " << i;
    if (i) {
      ASSERT_GT(got[i].epoch_s, got[i - 1].epoch_s);
    }
  }
}

}  // namespace

TEST(Node, ConnectsSubscribesAndReportsItsConfiguration) {
  Rig rig;
  rig.run_s(3);
  EXPECT_EQ(rig.node->state(), Node::State::Online);
  EXPECT_TRUE(rig.clock.sync_started);
  const Topics t(kThing);
  EXPECT_EQ(rig.net.subscriptions, (std::vector<std::string>{t.shadow_delta, t.shadow_get_accepted}));
  EXPECT_EQ(rig.on(t.shadow_get), (std::vector<std::string>{"{}"}));
  const auto reported = rig.on(t.shadow_update);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_NE(reported[0].find(R"("sample_interval_s":30,"batch_size":10)"), std::string::npos);
  EXPECT_NE(reported[0].find(R"("wifi":{"ssid":"hotel-wifi"})"), std::string::npos);
  for (const auto& p : rig.net.published) EXPECT_EQ(p.second.find("wifi-pass-1"), std::string::npos);
  EXPECT_GT(rig.wdt.feeds, 6u);  // fed at least twice a loop
}

TEST(Node, PublishesABatchEveryTenSamples) {
  Rig rig;
  rig.run_s(301);
  const auto msgs = rig.on(rig.node->topics().telemetry);
  ASSERT_EQ(msgs.size(), 1u);
  expect_contiguous(rig.telemetry(), 0, 10);
  EXPECT_EQ(rig.telemetry()[0].epoch_s, kT0);
  EXPECT_EQ(rig.telemetry()[9].epoch_s, kT0 + 270);
}

TEST(Node, AnOutageOfHoursLosesNothingAndTheBacklogGoesOutInOrder) {
  LogCapture logs;
  Rig rig;
  rig.run_s(300);
  rig.net.broker_up = false;
  rig.run_s(4 * 3600);
  EXPECT_EQ(rig.node->state() == Node::State::Online, false);
  EXPECT_GT(rig.node->uplink().pending(), 470u);
  const int attempts_during_outage = rig.net.connect_attempts;
  // Delays double up to 5 min, minus up to half of it as jitter: 48..96 attempts in 4 hours.
  EXPECT_LT(attempts_during_outage, 96) << "backoff must space the reconnects";
  EXPECT_GT(attempts_during_outage, 48);
  rig.net.broker_up = true;
  rig.run_s(900);
  EXPECT_EQ(rig.node->state(), Node::State::Online);
  EXPECT_LE(rig.node->uplink().pending(), 10u);
  const auto got = rig.telemetry();
  const size_t expected = static_cast<size_t>((300 + 4 * 3600 + 900) / 30) - rig.node->uplink().pending();
  expect_contiguous(got, 0, expected);
  for (const auto& m : rig.on(rig.node->topics().telemetry)) EXPECT_LE(m.size(), kMaxMessageBytes);
  EXPECT_TRUE(logs.contains("MQTT connection lost"));
}

TEST(Node, APowerCutDuringAnOutageKeepsTheBacklogAndTheSequence) {
  Rig rig;
  rig.run_s(300);
  rig.net.broker_up = false;
  rig.run_s(3600);
  const uint32_t stored = rig.log->next_seq();
  // The power goes in the middle of writing the next reading.
  rig.flash.cut_power_after(20);
  rig.run_s(31);
  rig.flash.power_on();
  rig.net.broker_up = true;
  rig.boot();
  EXPECT_GE(rig.log->pending(), stored - 10);
  EXPECT_EQ(rig.log->stats().torn_skipped, 1u);
  rig.run_s(600);
  const auto got = rig.telemetry();
  ASSERT_GT(got.size(), stored);
  for (size_t i = 0; i < stored; ++i) ASSERT_EQ(got[i].seq, i);  // everything stored before the cut arrived
  for (size_t i = 1; i < got.size(); ++i) ASSERT_GT(got[i].seq, got[i - 1].seq);
  EXPECT_GE(got[stored].seq, stored);  // the sequence goes on after the reboot
}

TEST(Node, ReadingsTakenBeforeSntpAreStampedOnceTheClockIsSet) {
  Rig rig;
  rig.clock.synced = false;
  rig.net.ap_up = false;
  rig.run_s(181);
  EXPECT_EQ(rig.node->unstamped(), 7u);
  EXPECT_EQ(rig.log->pending(), 0u);
  rig.clock.synced = true;
  rig.run_s(5);
  EXPECT_EQ(rig.node->unstamped(), 0u);
  std::vector<LogRecord> recs;
  rig.log->peek(100, recs);
  ASSERT_GE(recs.size(), 7u);
  Reading first;
  ASSERT_TRUE(decode_record(recs[0].data.data(), recs[0].data.size(), recs[0].seq, first));
  EXPECT_EQ(first.epoch_s, kT0);  // taken at 10:00:00, stored with that time
  Reading seventh;
  ASSERT_TRUE(decode_record(recs[6].data.data(), recs[6].data.size(), recs[6].seq, seventh));
  EXPECT_EQ(seventh.epoch_s, kT0 + 180);
}

TEST(Node, ShadowDeltaChangesIntervalAndBatchAndIsReportedBack) {
  LogCapture logs;
  Rig rig;
  rig.run_s(5);
  const Topics t = rig.node->topics();
  rig.inject(t.shadow_delta, R"({"version":12,"timestamp":1795341605,"state":{"sample_interval_s":60,"batch_size":5},)"
                             R"("metadata":{"sample_interval_s":{"timestamp":1795341605}}})");
  rig.run_s(2);
  EXPECT_EQ(rig.node->config().sample_interval_s, 60u);
  EXPECT_EQ(rig.node->config().batch_size, 5u);
  EXPECT_EQ(rig.kv.numbers["cfg_interval"], 60);
  const auto reported = rig.on(t.shadow_update);
  ASSERT_EQ(reported.size(), 2u);
  EXPECT_NE(reported[1].find(R"("sample_interval_s":60,"batch_size":5)"), std::string::npos);
  // The same delta again (MQTT redelivery) is not applied twice.
  rig.inject(t.shadow_delta, R"({"version":12,"state":{"batch_size":7}})");
  rig.run_s(1);
  EXPECT_EQ(rig.node->config().batch_size, 5u);
  EXPECT_TRUE(logs.contains("version 12 already applied"));
  // A refused value is reported as a config error.
  rig.inject(t.shadow_delta, R"({"version":13,"state":{"batch_size":0}})");
  rig.run_s(1);
  EXPECT_NE(rig.on(t.shadow_update).back().find(R"("config_errors":{"batch_size":)"), std::string::npos);
  rig.run_s(600);
  const auto got = rig.telemetry();
  ASSERT_GE(got.size(), 10u);
  EXPECT_EQ(got.back().epoch_s - got[got.size() - 2].epoch_s, 60);
  EXPECT_EQ(rig.on(t.telemetry).back().find(R"({"readings":[)"), 0u);
}

TEST(Node, GetAcceptedAppliesOnlyTheDelta) {
  Rig rig;
  rig.run_s(3);
  rig.inject(rig.node->topics().shadow_get_accepted,
             R"({"state":{"desired":{"batch_size":20,"sample_interval_s":30},"reported":{"sample_interval_s":30},)"
             R"("delta":{"batch_size":20}},"version":3})");
  rig.run_s(1);
  EXPECT_EQ(rig.node->config().batch_size, 20u);
}

TEST(Node, WifiChangeFromTheShadowIsTriedKeptAndNeverLogged) {
  LogCapture logs;
  Rig rig;
  rig.run_s(5);
  rig.net.ap = WifiCredentials{"street-mesh", "n3w-secret-pass"};  // the site moved to a new network
  rig.inject(rig.node->topics().shadow_delta,
             R"({"version":20,"state":{"wifi":{"ssid":"street-mesh","password":"n3w-secret-pass"}}})");
  rig.run_s(10);
  EXPECT_EQ(rig.node->state(), Node::State::Online);
  EXPECT_EQ(rig.net.joined.ssid, "street-mesh");
  EXPECT_EQ(rig.kv.strings["wifi_ssid"], "street-mesh");
  EXPECT_EQ(rig.kv.strings["wifi_pass"], "n3w-secret-pass");
  const std::string last = rig.on(rig.node->topics().shadow_update).back();
  EXPECT_NE(last.find(R"("wifi":{"ssid":"street-mesh"})"), std::string::npos) << last;
  EXPECT_NE(last.find(R"("desired":{"wifi":null})"), std::string::npos) << last;  // the password leaves the shadow
  EXPECT_FALSE(logs.contains("n3w-secret-pass")) << logs.all();
  EXPECT_FALSE(logs.contains("wifi-pass-1"));
  for (const auto& p : rig.net.published) EXPECT_EQ(p.second.find("n3w-secret-pass"), std::string::npos);
}

TEST(Node, AWifiChangeThatFailsRollsBackAndIsNotRetried) {
  Rig rig;
  rig.run_s(5);
  const Topics t = rig.node->topics();
  const std::string ghost = R"({"wifi":{"ssid":"ghost-net","password":"ghost-pass-1"}})";
  rig.inject(t.shadow_delta, R"({"version":30,"state":)" + ghost + "}");
  rig.run_s(40);
  EXPECT_EQ(rig.node->state(), Node::State::Online);
  EXPECT_EQ(rig.net.joined.ssid, "hotel-wifi");
  EXPECT_EQ(rig.kv.strings["wifi_ssid"], "hotel-wifi");
  const std::string last = rig.on(t.shadow_update).back();
  EXPECT_NE(last.find(R"("wifi_error":"could not join 'ghost-net'")"), std::string::npos) << last;
  EXPECT_NE(last.find(R"("desired":{"wifi":null})"), std::string::npos) << last;
  // After the reconnect the old desired state comes back once more: not tried again.
  const int begins = rig.net.wifi_begins;
  rig.inject(t.shadow_get_accepted, R"({"version":31,"state":{"delta":)" + ghost + "}}");
  rig.run_s(5);
  EXPECT_EQ(rig.net.wifi_begins, begins);
}

TEST(Node, WithoutProvisioningItMeasuresButNeverConnects) {
  LogCapture logs;
  Rig rig;
  rig.boot("");
  rig.run_s(120);
  EXPECT_EQ(rig.node->state(), Node::State::Unprovisioned);
  EXPECT_EQ(rig.net.wifi_begins, 0);
  EXPECT_EQ(rig.log->pending(), 4u);
  EXPECT_TRUE(logs.contains("not provisioned"));
}

TEST(Node, LightFollowsCommandsAndReportsABulbFailure) {
  LogCapture logs;
  Rig rig(Role::Light);
  rig.lamp.ambient = 2000;  // daylight: "auto" keeps it off
  rig.run_s(3);
  const Topics t = rig.node->topics();
  EXPECT_EQ(rig.net.subscriptions.back(), t.commands);
  EXPECT_EQ(rig.on(t.status), (std::vector<std::string>{R"({"status":"off"})"}));
  EXPECT_FALSE(rig.lamp.out.relay);

  rig.uart.m.current_ma = 420;
  rig.inject(t.commands, R"({"command_id":"c-1","seq":1,"action":"on","brightness":70})");
  rig.run_s(10);
  EXPECT_TRUE(rig.lamp.out.relay);
  EXPECT_EQ(rig.lamp.out.duty_percent, 70);
  EXPECT_EQ(rig.on(t.status).back(), R"({"status":"on","command_id":"c-1"})");
  EXPECT_EQ(rig.kv.numbers["light_mode"], 1);

  rig.uart.m.current_ma = 0;  // the bulb burns out
  rig.run_s(10);
  EXPECT_EQ(rig.on(t.status).back(), R"({"status":"error","error_details":"Bulb failed","command_id":"c-1"})");

  rig.inject(t.commands, R"({"action":"dim","seq":2})");  // malformed: ignored, logged, nothing changes
  rig.run_s(2);
  EXPECT_TRUE(logs.contains("command ignored"));
  EXPECT_TRUE(rig.lamp.out.relay);

  rig.inject(t.commands, R"({"command_id":"c-2","seq":2,"action":"off"})");
  rig.run_s(2);
  EXPECT_FALSE(rig.lamp.out.relay);
  EXPECT_EQ(rig.on(t.status).back(), R"({"status":"off","command_id":"c-2"})");

  // After a reboot the light keeps its mode and says its status again.
  const size_t before = rig.on(t.status).size();
  rig.boot();
  rig.run_s(5);
  EXPECT_FALSE(rig.lamp.out.relay);
  EXPECT_EQ(rig.on(t.status).size(), before + 1);
}

namespace {
// A light online in daylight ("auto" keeps it off), lamp current flowing when lit.
struct LightRig : Rig {
  Topics t;
  LightRig() : Rig(Role::Light), t(kThing) {
    lamp.ambient = 2000;
    uart.m.current_ma = 420;
    run_s(3);
  }
  std::string last_reported_light() const {
    JsonValue doc;
    EXPECT_TRUE(json_parse(on(t.shadow_update).back(), doc));
    const JsonValue* light = doc.get("state")->get("reported")->get("light");
    std::string out;
    if (light == nullptr) return out;
    JsonWriter w(out);
    w.begin_object();
    for (const auto& m : light->members()) {
      w.key(m.first.c_str());
      if (m.second.is_string()) w.value(m.second.as_string());
      else w.value(m.second.as_int());
    }
    w.end_object();
    return out;
  }
};
}  // namespace

TEST(Node, LightAppliesANewerCommandAndItsStatusCarriesTheCommandId) {
  LightRig rig;
  rig.inject(rig.t.commands, R"({"command_id":"cmd-5","seq":5,"action":"on","brightness":60,"issued_at":"x"})");
  rig.run_s(2);
  EXPECT_TRUE(rig.lamp.out.relay);
  EXPECT_EQ(rig.lamp.out.duty_percent, 60);
  EXPECT_EQ(rig.on(rig.t.status).back(), R"({"status":"on","command_id":"cmd-5"})");
  EXPECT_EQ(rig.last_reported_light(), R"({"action":"on","brightness":60,"seq":5,"command_id":"cmd-5"})");
  EXPECT_EQ(rig.kv.numbers["light_seq"], 5);
  EXPECT_EQ(rig.kv.strings["light_cmd"], "cmd-5");
  // A newer command that leaves the status as it was is still reported: its report confirms it.
  const size_t reports = rig.on(rig.t.status).size();
  rig.inject(rig.t.commands, R"({"command_id":"cmd-6","seq":6,"action":"on","brightness":90})");
  rig.run_s(2);
  ASSERT_EQ(rig.on(rig.t.status).size(), reports + 1);
  EXPECT_EQ(rig.on(rig.t.status).back(), R"({"status":"on","command_id":"cmd-6"})");
  EXPECT_EQ(rig.lamp.out.duty_percent, 90);
}

TEST(Node, LightIgnoresACommandNotNewerThanTheLastAppliedAlsoAfterAReboot) {
  LogCapture logs;
  LightRig rig;
  rig.inject(rig.t.commands, R"({"command_id":"cmd-8","seq":8,"action":"on","brightness":40})");
  rig.run_s(2);
  ASSERT_TRUE(rig.lamp.out.relay);
  const size_t reports = rig.on(rig.t.status).size();
  // An older command delivered late, and the same one again (MQTT redelivery).
  rig.inject(rig.t.commands, R"({"command_id":"cmd-7","seq":7,"action":"off"})");
  rig.inject(rig.t.commands, R"({"command_id":"cmd-8","seq":8,"action":"on","brightness":40})");
  rig.run_s(2);
  EXPECT_TRUE(rig.lamp.out.relay);
  EXPECT_EQ(rig.lamp.out.duty_percent, 40);
  EXPECT_EQ(rig.on(rig.t.status).size(), reports);
  EXPECT_TRUE(logs.contains("command ignored: seq 7 is not newer than 8")) << logs.all();
  EXPECT_TRUE(logs.contains("command ignored: seq 8 is not newer than 8"));
  // The last applied seq is kept in NVS: after a power cut seq 7 is still old.
  rig.boot();
  rig.run_s(3);
  EXPECT_EQ(rig.node->light_seq(), 8);
  EXPECT_EQ(rig.on(rig.t.status).back(), R"({"status":"on","command_id":"cmd-8"})");  // said again on connect
  rig.inject(rig.t.commands, R"({"command_id":"cmd-7","seq":7,"action":"off"})");
  rig.run_s(2);
  EXPECT_TRUE(rig.lamp.out.relay);
}

TEST(Node, LightAppliesDesiredLightFromItsShadowOnReconnect) {
  LightRig rig;
  rig.inject(rig.t.commands, R"({"command_id":"cmd-1","seq":1,"action":"off"})");
  rig.run_s(2);
  rig.net.broker_up = false;  // the light goes offline; meanwhile the cloud writes desired.light (seq 2)
  rig.run_s(5);
  ASSERT_NE(rig.node->state(), Node::State::Online);
  const size_t gets = rig.on(rig.t.shadow_get).size();
  rig.net.broker_up = true;
  rig.run_s(10);
  ASSERT_EQ(rig.node->state(), Node::State::Online);
  ASSERT_EQ(rig.on(rig.t.shadow_get).size(), gets + 1);  // asked for its shadow on reconnect
  // The answer: desired.light holds the command it missed; the delta leaves out
  // what equals the (stale) reported state, so the whole desired.light is used.
  rig.inject(rig.t.shadow_get_accepted,
             R"({"state":{"desired":{"light":{"action":"on","brightness":75,"command_id":"cmd-2","seq":2}},)"
             R"("reported":{"light":{"action":"off","brightness":100,"seq":1,"command_id":"cmd-1"}},)"
             R"("delta":{"light":{"action":"on","brightness":75,"command_id":"cmd-2","seq":2}}},"version":9})");
  rig.run_s(2);
  EXPECT_TRUE(rig.lamp.out.relay);
  EXPECT_EQ(rig.lamp.out.duty_percent, 75);
  EXPECT_EQ(rig.on(rig.t.status).back(), R"({"status":"on","command_id":"cmd-2"})");
  EXPECT_EQ(rig.last_reported_light(), R"({"action":"on","brightness":75,"seq":2,"command_id":"cmd-2"})");

  // A delta while connected (the command topic's message lost): applied.
  rig.uart.m.current_ma = 0;  // switched off: no lamp current
  rig.inject(rig.t.shadow_delta,
             R"({"version":10,"state":{"light":{"action":"off","brightness":20,"command_id":"cmd-3","seq":3}}})");
  rig.run_s(2);
  EXPECT_FALSE(rig.lamp.out.relay);
  EXPECT_EQ(rig.on(rig.t.status).back(), R"({"status":"off","command_id":"cmd-3"})");
  // The command itself arriving afterwards is not newer: nothing happens twice.
  const size_t reports = rig.on(rig.t.status).size();
  rig.inject(rig.t.commands, R"({"command_id":"cmd-3","seq":3,"action":"off","brightness":20})");
  rig.run_s(2);
  EXPECT_EQ(rig.on(rig.t.status).size(), reports);

  // A delta with only part of the light (the rest equals the reported state): the
  // lamp asks for the whole shadow and applies desired.light from the answer.
  const size_t asked = rig.on(rig.t.shadow_get).size();
  rig.inject(rig.t.shadow_delta, R"({"version":11,"state":{"light":{"command_id":"cmd-4","seq":4}}})");
  rig.run_s(1);
  ASSERT_EQ(rig.on(rig.t.shadow_get).size(), asked + 1);
  EXPECT_EQ(rig.node->light_seq(), 3);
  rig.inject(rig.t.shadow_get_accepted,
             R"({"state":{"desired":{"light":{"action":"off","brightness":20,"command_id":"cmd-4","seq":4}}},)"
             R"("version":11})");
  rig.run_s(2);
  EXPECT_EQ(rig.node->light_seq(), 4);
  EXPECT_EQ(rig.on(rig.t.status).back(), R"({"status":"off","command_id":"cmd-4"})");
}

TEST(Node, LightRefusesMalformedCommandsAndShadowLightWithoutChangingAnything) {
  LogCapture logs;
  LightRig rig;
  rig.inject(rig.t.commands, R"({"command_id":"ok","seq":3,"action":"on","brightness":50})");
  rig.run_s(2);
  const size_t reports = rig.on(rig.t.status).size();
  const char* bad[] = {
      R"({"command_id":"x","seq":9,"action":"dim"})",             // bad action
      R"({"command_id":"x","seq":9,"action":"on","brightness":101})",  // bad brightness
      R"({"command_id":"x","action":"off"})",                      // no seq
      R"({"command_id":"x","seq":"9","action":"off"})",            // seq not a number
      R"({"command_id":17,"seq":9,"action":"off"})",               // command_id not a string
      "{\"action\":\"off\",\"seq\":9",                         // truncated JSON
      "",
  };
  for (const char* p : bad) rig.inject(rig.t.commands, p);
  rig.run_s(3);
  rig.inject(rig.t.shadow_delta, R"({"version":40,"state":{"light":{"action":"blink","seq":9}}})");
  rig.inject(rig.t.shadow_delta, R"({"version":41,"state":{"light":"off"}})");
  rig.inject(rig.t.shadow_get_accepted, R"({"version":42,"state":{"desired":{"light":{"action":"off"}}}})");
  rig.run_s(3);
  EXPECT_EQ(rig.node->state(), Node::State::Online);
  EXPECT_TRUE(rig.lamp.out.relay);
  EXPECT_EQ(rig.lamp.out.duty_percent, 50);
  EXPECT_EQ(rig.node->light_seq(), 3);
  EXPECT_EQ(rig.on(rig.t.status).size(), reports);
  EXPECT_TRUE(logs.contains("action must be"));
  EXPECT_TRUE(logs.contains("brightness must be"));
  EXPECT_TRUE(logs.contains("seq must be"));
  EXPECT_TRUE(logs.contains("command_id must be"));
  EXPECT_TRUE(logs.contains("not JSON"));
  EXPECT_TRUE(logs.contains("shadow light ignored: not a JSON object"));
}
