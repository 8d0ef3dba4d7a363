#include "host_sim.h"

#include <algorithm>

#include "Arduino.h"
#include "MQTTClient.h"
#include "Preferences.h"
#include "WiFi.h"
#include "WiFiClientSecure.h"
#include "esp_partition.h"
#include "esp_task_wdt.h"

namespace host_sim {

World& world() {
  static World w;
  return w;
}

void reset() { world() = World(); }

void advance_ms(uint32_t ms) { world().now_us += static_cast<uint64_t>(ms) * 1000; }

uint32_t millis() { return static_cast<uint32_t>(world().now_us / 1000); }

void provision(const std::string& thing_name, const std::string& ssid, const std::string& password) {
  auto& s = world().nvs_strings;
  s["gridpulse/thing"] = thing_name;
  s["gridpulse/endpoint"] = "abc123-ats.iot.eu-west-1.amazonaws.com";
  s["gridpulse/cert"] = "-----BEGIN CERTIFICATE-----\nMIIB...device...\n-----END CERTIFICATE-----\n";
  s["gridpulse/key"] = "-----BEGIN RSA PRIVATE KEY-----\nMIIE...secret...\n-----END RSA PRIVATE KEY-----\n";
  s["gridpulse/ca"] = "-----BEGIN CERTIFICATE-----\nMIID...AmazonRootCA1...\n-----END CERTIFICATE-----\n";
  s["gridpulse/wifi_ssid"] = ssid;
  s["gridpulse/wifi_pass"] = password;
  world().nvs_numbers["gridpulse/port"] = 8883;
  world().accept_client_id = thing_name;
}

std::vector<Published> published_on(const std::string& topic) {
  std::vector<Published> out;
  for (const auto& p : world().published)
    if (p.topic == topic) out.push_back(p);
  return out;
}

}  // namespace host_sim

using host_sim::world;

extern "C" long long host_sim_epoch(void) {
  const auto& w = world();
  if (!w.time_set) return static_cast<long long>(w.now_us / 1000000);  // an ESP32 without SNTP: 1970
  return static_cast<long long>(w.epoch_offset + static_cast<int64_t>(w.now_us / 1000000));
}

// ---------------------------------------------------------------- Arduino core

unsigned long millis() { return host_sim::millis(); }
unsigned long micros() { return static_cast<unsigned long>(world().now_us); }
void delay(uint32_t ms) { host_sim::advance_ms(ms); }
void delayMicroseconds(uint32_t us) { world().now_us += us; }
void pinMode(uint8_t, uint8_t) {}
void digitalWrite(uint8_t pin, uint8_t value) { world().gpio[pin] = value; }
int digitalRead(uint8_t pin) { return world().gpio.count(pin) ? world().gpio[pin] : LOW; }
uint32_t analogReadMilliVolts(uint8_t pin) {
  world().now_us += 60;
  return world().adc_mv.count(pin) ? world().adc_mv[pin] : 0;
}
uint16_t analogRead(uint8_t pin) { return static_cast<uint16_t>(analogReadMilliVolts(pin) * 4095 / 3300); }
double ledcSetup(uint8_t, double freq, uint8_t) { return freq; }
void ledcAttachPin(uint8_t, uint8_t) {}
void ledcWrite(uint8_t channel, uint32_t duty) { world().ledc_duty[channel] = duty; }

void configTime(long, int, const char*, const char*, const char*) {
  auto& w = world();
  if (!w.time_set && w.epoch_at_boot > 0) {
    w.time_set = true;
    w.epoch_offset = w.epoch_at_boot - static_cast<int64_t>(w.now_us / 1000000);
  }
}

uint32_t esp_random(void) {
  static uint32_t x = 2463534242u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

size_t Print::printf(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  if (n < 0) return 0;
  size_t len = std::min(static_cast<size_t>(n), sizeof buf - 1);
  return write(reinterpret_cast<const uint8_t*>(buf), len);
}

HardwareSerial Serial(0);
HardwareSerial Serial2(2);

namespace {

uint16_t crc16(const uint8_t* p, size_t n) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b) crc = (crc & 1) ? static_cast<uint16_t>((crc >> 1) ^ 0xA001) : static_cast<uint16_t>(crc >> 1);
  }
  return crc;
}

// The simulated PZEM-004T v3 on UART2.
void pzem_receive(uint8_t byte) {
  auto& w = world();
  w.uart2_tx.push_back(byte);
  if (w.uart2_tx.size() < 8) return;
  std::vector<uint8_t> req(w.uart2_tx.begin(), w.uart2_tx.begin() + 8);
  w.uart2_tx.clear();
  if (!w.pzem.present || req[1] != 0x04 || crc16(req.data(), 8) != 0) return;
  ++w.pzem.requests;
  const auto& p = w.pzem;
  const uint16_t regs[10] = {p.voltage_dv,
                             static_cast<uint16_t>(p.current_ma & 0xFFFF), static_cast<uint16_t>(p.current_ma >> 16),
                             static_cast<uint16_t>(p.power_dw & 0xFFFF), static_cast<uint16_t>(p.power_dw >> 16),
                             static_cast<uint16_t>(p.energy_wh & 0xFFFF), static_cast<uint16_t>(p.energy_wh >> 16),
                             p.frequency_dhz, p.power_factor_c, p.alarm};
  std::vector<uint8_t> resp = {0x01, 0x04, 20};
  for (uint16_t r : regs) {
    resp.push_back(static_cast<uint8_t>(r >> 8));
    resp.push_back(static_cast<uint8_t>(r & 0xFF));
  }
  const uint16_t crc = crc16(resp.data(), resp.size());
  resp.push_back(static_cast<uint8_t>(crc & 0xFF));
  resp.push_back(static_cast<uint8_t>(crc >> 8));
  w.uart2_rx.insert(w.uart2_rx.end(), resp.begin(), resp.end());
}

}  // namespace

void HardwareSerial::begin(unsigned long, uint32_t, int8_t, int8_t) {}

size_t HardwareSerial::write(uint8_t c) {
  if (uart_ == 2) pzem_receive(c);
  else world().serial_out.push_back(static_cast<char>(c));
  return 1;
}

int HardwareSerial::available() { return uart_ == 2 ? static_cast<int>(world().uart2_rx.size()) : 0; }

int HardwareSerial::read() {
  auto& rx = world().uart2_rx;
  if (uart_ != 2 || rx.empty()) return -1;
  const int b = rx.front();
  rx.erase(rx.begin());
  return b;
}

// ---------------------------------------------------------------- ESP-IDF bits

esp_err_t esp_task_wdt_init(uint32_t, bool) {
  world().wdt_initialised = true;
  return ESP_OK;
}
esp_err_t esp_task_wdt_add(TaskHandle_t) { return world().wdt_initialised ? ESP_OK : ESP_FAIL; }
esp_err_t esp_task_wdt_reset(void) {
  ++world().wdt_feeds;
  return ESP_OK;
}

static esp_partition_t g_rbuf = {ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY, 0x310000, 0, "rbuf", false};

const esp_partition_t* esp_partition_find_first(esp_partition_type_t type, esp_partition_subtype_t,
                                                const char* label) {
  if (type != ESP_PARTITION_TYPE_DATA || label == nullptr || std::string(label) != "rbuf") return nullptr;
  g_rbuf.size = static_cast<uint32_t>(world().rbuf.size());
  return &g_rbuf;
}

esp_err_t esp_partition_read(const esp_partition_t* p, size_t off, void* dst, size_t n) {
  auto& mem = world().rbuf;
  if (p == nullptr || off + n > mem.size()) return ESP_ERR_INVALID_ARG;
  std::memcpy(dst, &mem[off], n);
  return ESP_OK;
}

esp_err_t esp_partition_write(const esp_partition_t* p, size_t off, const void* src, size_t n) {
  auto& mem = world().rbuf;
  if (p == nullptr || off + n > mem.size()) return ESP_ERR_INVALID_ARG;
  const uint8_t* s = static_cast<const uint8_t*>(src);
  for (size_t i = 0; i < n; ++i) mem[off + i] &= s[i];  // NOR flash
  return ESP_OK;
}

esp_err_t esp_partition_erase_range(const esp_partition_t* p, size_t off, size_t n) {
  auto& mem = world().rbuf;
  if (p == nullptr || off % 4096 || n % 4096 || off + n > mem.size()) return ESP_ERR_INVALID_ARG;
  std::fill(mem.begin() + static_cast<long>(off), mem.begin() + static_cast<long>(off + n), 0xFF);
  return ESP_OK;
}

// ---------------------------------------------------------------- Preferences (NVS)

bool Preferences::begin(const char* name, bool read_only, const char*) {
  if (name == nullptr || std::strlen(name) > 15) return false;
  ns_ = name;
  open_ = true;
  read_only_ = read_only;
  return true;
}
void Preferences::end() { open_ = false; }
bool Preferences::isKey(const char* k) {
  return open_ && (world().nvs_strings.count(key(k)) || world().nvs_numbers.count(key(k)));
}
String Preferences::getString(const char* k, const String def) {
  auto it = world().nvs_strings.find(key(k));
  return open_ && it != world().nvs_strings.end() ? String(it->second) : def;
}
size_t Preferences::putString(const char* k, const char* value) {
  if (!open_ || read_only_ || std::strlen(k) > 15 || std::strlen(value) > 4000) return 0;
  world().nvs_strings[key(k)] = value;
  return std::strlen(value);
}
int64_t Preferences::getLong64(const char* k, int64_t def) {
  auto it = world().nvs_numbers.find(key(k));
  return open_ && it != world().nvs_numbers.end() ? it->second : def;
}
size_t Preferences::putLong64(const char* k, int64_t value) {
  if (!open_ || read_only_ || std::strlen(k) > 15) return 0;
  world().nvs_numbers[key(k)] = value;
  return sizeof value;
}
bool Preferences::remove(const char* k) {
  if (!open_ || read_only_) return false;
  return world().nvs_strings.erase(key(k)) + world().nvs_numbers.erase(key(k)) > 0;
}

// ---------------------------------------------------------------- WiFi

WiFiClass WiFi;

bool WiFiClass::mode(wifi_mode_t) { return true; }
void WiFiClass::persistent(bool) {}
bool WiFiClass::setAutoReconnect(bool) { return true; }

wl_status_t WiFiClass::begin(const char* ssid, const char* pass) {
  auto& w = world();
  ++w.wifi_begin_calls;
  w.joined_ssid = ssid ? ssid : "";
  w.wifi_connected = w.ap_up && w.joined_ssid == w.ap_ssid && std::string(pass ? pass : "") == w.ap_password;
  return status();
}

wl_status_t WiFiClass::status() {
  auto& w = world();
  if (!w.ap_up) w.wifi_connected = false;
  return w.wifi_connected ? WL_CONNECTED : WL_DISCONNECTED;
}

bool WiFiClass::disconnect(bool, bool) {
  world().wifi_connected = false;
  world().mqtt_connected = false;
  return true;
}

int8_t WiFiClass::RSSI() { return -60; }

// ---------------------------------------------------------------- TLS + MQTT

void WiFiClientSecure::setCACert(const char* ca) { has_ca_ = ca && *ca; }
void WiFiClientSecure::setCertificate(const char* cert) { has_cert_ = cert && *cert; }
void WiFiClientSecure::setPrivateKey(const char* key) { has_key_ = key && *key; }
void WiFiClientSecure::setHandshakeTimeout(unsigned long) {}

int WiFiClientSecure::connect(const char* host, uint16_t port) {
  auto& w = world();
  w.now_us += 1500 * 1000;  // a TLS handshake takes a while
  w.broker_host = host ? host : "";
  w.tls_has_ca = has_ca_;
  w.tls_has_cert = has_cert_;
  w.tls_has_key = has_key_;
  open_ = w.wifi_connected && w.broker_up && port == 8883 && has_ca_ && has_cert_ && has_key_;
  return open_ ? 1 : 0;
}

uint8_t WiFiClientSecure::connected() {
  auto& w = world();
  if (!w.wifi_connected || !w.broker_up) open_ = false;
  return open_ ? 1 : 0;
}

void WiFiClientSecure::stop() { open_ = false; }

void MQTTClient::begin(const char hostname[], int port, Client& client) {
  host_ = hostname;
  port_ = port;
  client_ = &client;
}

bool MQTTClient::connect(const char client_id[], bool) {
  auto& w = world();
  connected_ = false;
  if (client_ == nullptr || !client_->connect(host_, static_cast<uint16_t>(port_))) {
    last_error_ = LWMQTT_NETWORK_FAILED_CONNECT;
    return false;
  }
  if (!w.accept_client_id.empty() && w.accept_client_id != client_id) {
    last_error_ = LWMQTT_CONNECTION_DENIED;
    return_code_ = LWMQTT_NOT_AUTHORIZED;
    client_->stop();
    return false;
  }
  ++w.connects;
  w.subscriptions.clear();  // clean session
  connected_ = true;
  w.mqtt_connected = true;
  return true;
}

bool MQTTClient::connected() {
  if (connected_ && (client_ == nullptr || !client_->connected())) {
    connected_ = false;
    world().mqtt_connected = false;
  }
  return connected_;
}

bool MQTTClient::publish(const char topic[], const char payload[], int length, bool, int qos) {
  if (!connected()) return false;
  if (length + static_cast<int>(std::strlen(topic)) + 8 > buf_size_) {
    last_error_ = LWMQTT_NETWORK_TIMEOUT;
    return false;
  }
  world().now_us += 20 * 1000;  // the PUBACK round trip
  world().published.push_back({topic, std::string(payload, static_cast<size_t>(length)), qos});
  deliver();  // messages may arrive while the client waits for the PUBACK
  return true;
}

bool MQTTClient::subscribe(const char topic[], int) {
  if (!connected()) return false;
  world().subscriptions.push_back(topic);
  return true;
}

void MQTTClient::deliver() {
  auto& w = world();
  while (connected_ && !w.to_device.empty()) {
    auto msg = w.to_device.front();
    w.to_device.pop_front();
    const bool subscribed =
        std::find(w.subscriptions.begin(), w.subscriptions.end(), msg.first) != w.subscriptions.end();
    if (callback_ && subscribed) {
      std::string topic = msg.first;
      std::string payload = msg.second;
      callback_(this, &topic[0], &payload[0], static_cast<int>(payload.size()));
    }
  }
}

bool MQTTClient::loop() {
  if (!connected()) return false;
  deliver();
  return true;
}

bool MQTTClient::disconnect() {
  connected_ = false;
  world().mqtt_connected = false;
  if (client_) client_->stop();
  return true;
}
