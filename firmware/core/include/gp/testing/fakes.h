// Test doubles for the ports of the runtime: used by the host tests and by
// tools/emit_payloads (which drives the real firmware code with fixed inputs).
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gp/backoff.h"
#include "gp/crc.h"
#include "gp/log.h"
#include "gp/modbus.h"
#include "gp/node.h"
#include "gp/sensor.h"

namespace gp {
namespace testing {

// An answer of a PZEM-004T v3 to "read 10 input registers".
inline std::vector<uint8_t> pzem_response(const pzem::Measurement& m, uint8_t addr = 0x01) {
  const uint32_t cur = static_cast<uint32_t>(m.current_ma), pow = static_cast<uint32_t>(m.power_dw),
                 en = static_cast<uint32_t>(m.energy_wh);
  const uint16_t regs[10] = {static_cast<uint16_t>(m.voltage_dv), static_cast<uint16_t>(cur & 0xFFFF),
                             static_cast<uint16_t>(cur >> 16),      static_cast<uint16_t>(pow & 0xFFFF),
                             static_cast<uint16_t>(pow >> 16),      static_cast<uint16_t>(en & 0xFFFF),
                             static_cast<uint16_t>(en >> 16),       static_cast<uint16_t>(m.frequency_dhz),
                             static_cast<uint16_t>(m.power_factor_c), static_cast<uint16_t>(m.alarm ? 0xFFFF : 0)};
  std::vector<uint8_t> f = {addr, 0x04, 20};
  for (uint16_t r : regs) {
    f.push_back(static_cast<uint8_t>(r >> 8));
    f.push_back(static_cast<uint8_t>(r & 0xFF));
  }
  const uint16_t crc = crc16_modbus(f.data(), f.size());
  f.push_back(static_cast<uint8_t>(crc & 0xFF));
  f.push_back(static_cast<uint8_t>(crc >> 8));
  return f;
}

// A UART with a PZEM on the other end.
class FakePzemPort : public SerialPort {
 public:
  pzem::Measurement m;
  bool present = true;
  int corrupt_next = 0;  // answers to garble (one bit flipped)
  uint32_t requests = 0;
  std::vector<uint8_t> last_request;

  void write(const uint8_t* data, size_t len) override {
    last_request.assign(data, data + len);
    ++requests;
    if (!present || len != 8 || data[1] != modbus::kReadInputRegisters || crc16_modbus(data, len) != 0) return;
    std::vector<uint8_t> f = pzem_response(m);
    if (corrupt_next > 0) {
      --corrupt_next;
      f[5] ^= 0x10;
    }
    rx_.insert(rx_.end(), f.begin(), f.end());
  }
  int read_byte(uint32_t) override {
    if (rx_.empty()) return -1;
    const int b = rx_.front();
    rx_.pop_front();
    return b;
  }
  void discard_input() override { rx_.clear(); }

 private:
  std::deque<uint8_t> rx_;
};

// ADC: constant millivolts per channel, or a 50 Hz sine (CT clamp) of a given RMS.
class FakeAnalog : public AnalogIn {
 public:
  std::map<uint8_t, int32_t> mv;
  std::map<uint8_t, double> ac_rms_mv;
  bool burst_mv(uint8_t channel, uint16_t* out, size_t n, uint32_t window_ms) override {
    auto it = ac_rms_mv.find(channel);
    if (it == ac_rms_mv.end()) return false;
    const double amp = it->second * std::sqrt(2.0);
    for (size_t i = 0; i < n; ++i) {
      const double t_ms = static_cast<double>(window_ms) * static_cast<double>(i) / static_cast<double>(n);
      out[i] = static_cast<uint16_t>(std::lround(1650.0 + amp * std::sin(2 * M_PI * 50.0 * t_ms / 1000.0)));
    }
    return true;
  }
  int32_t read_mv(uint8_t channel) override {
    auto it = mv.find(channel);
    return it == mv.end() ? kNoValue : it->second;
  }
};

class ManualClock : public Clock {
 public:
  uint32_t ms = 0;
  int64_t epoch_at_zero = 0;  // epoch when ms == 0
  bool synced = true;         // false: an ESP32 before SNTP (1970)
  bool sync_started = false;
  uint32_t millis() override { return ms; }
  int64_t epoch_s() override { return synced ? epoch_at_zero + ms / 1000 : ms / 1000; }
  void start_sync() override { sync_started = true; }
  void advance(uint32_t d) { ms += d; }
};

// Cycles through `values` (default: the middle of the range).
class ScriptedRandom : public Random {
 public:
  std::vector<uint32_t> values{0x80000000u};
  size_t i = 0;
  uint32_t next_u32() override { return values[i++ % values.size()]; }
};

class CountingWatchdog : public Watchdog {
 public:
  uint32_t feeds = 0;
  void feed() override { ++feeds; }
};

class CapturePublisher : public Publisher {
 public:
  std::vector<std::pair<std::string, std::string>> messages;
  int fail_next = 0;
  bool publish(const std::string& topic, const std::string& payload) override {
    if (fail_next > 0) {
      --fail_next;
      return false;
    }
    messages.emplace_back(topic, payload);
    return true;
  }
};

class FakeLamp : public LampDriver {
 public:
  LightOutputs out;
  int32_t ambient = kNoValue;
  int sets = 0;
  void set_outputs(const LightOutputs& o) override {
    out = o;
    ++sets;
  }
  int32_t ambient_mv() override { return ambient; }
};

// Wi-Fi access point + IoT Core broker.
class FakeNetwork : public Network {
 public:
  WifiCredentials ap{"hotel-wifi", "wifi-pass-1"};
  bool ap_up = true;
  bool broker_up = true;
  int fail_publishes = 0;  // the next N publishes fail and drop the connection
  std::vector<std::pair<std::string, std::string>> published;
  std::vector<std::string> subscriptions;
  std::deque<std::pair<std::string, std::string>> to_device;
  WifiCredentials joined;
  int connects = 0, connect_attempts = 0, wifi_begins = 0;

  void wifi_begin(const WifiCredentials& c) override {
    ++wifi_begins;
    joined = c;
    wifi_ = ap_up && c == ap;
  }
  bool wifi_connected() override {
    if (!ap_up) wifi_ = false;
    return wifi_;
  }
  void wifi_disconnect() override {
    wifi_ = false;
    mqtt_ = false;
  }
  bool mqtt_connect() override {
    ++connect_attempts;
    mqtt_ = wifi_connected() && broker_up;
    if (mqtt_) {
      ++connects;
      subscriptions.clear();
    }
    return mqtt_;
  }
  bool mqtt_connected() override {
    if (!broker_up || !wifi_connected()) mqtt_ = false;
    return mqtt_;
  }
  void mqtt_disconnect() override { mqtt_ = false; }
  bool subscribe(const std::string& f) override {
    if (!mqtt_connected()) return false;
    subscriptions.push_back(f);
    return true;
  }
  bool publish(const std::string& topic, const std::string& payload) override {
    if (!mqtt_connected()) return false;
    if (fail_publishes > 0) {
      --fail_publishes;
      mqtt_ = false;
      return false;
    }
    published.emplace_back(topic, payload);
    return true;
  }
  void poll() override {
    while (mqtt_connected() && !to_device.empty()) {
      auto msg = to_device.front();
      to_device.pop_front();
      bool subscribed = false;
      for (const auto& s : subscriptions) subscribed = subscribed || s == msg.first;
      if (subscribed && handler_) handler_->on_message(msg.first, msg.second);
    }
  }
  std::vector<std::string> payloads_on(const std::string& topic) const {
    std::vector<std::string> out;
    for (const auto& p : published)
      if (p.first == topic) out.push_back(p.second);
    return out;
  }

 private:
  bool wifi_ = false, mqtt_ = false;
};

// Installs a log sink for its lifetime and keeps the lines ("W tag: message").
class LogCapture {
 public:
  LogCapture() {
    set_log_level(LogLevel::Debug);
    set_log_sink(&LogCapture::sink, this);
  }
  ~LogCapture() {
    set_log_sink(nullptr, nullptr);
    set_log_level(LogLevel::Info);
  }
  bool contains(const std::string& text) const {
    for (const auto& l : lines)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  std::string all() const {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  std::vector<std::string> lines;

 private:
  static void sink(LogLevel level, const char* tag, const char* line, void* ctx) {
    static_cast<LogCapture*>(ctx)->lines.push_back(std::string(level_name(level)) + " " + tag + ": " + line);
  }
};

}  // namespace testing
}  // namespace gp
