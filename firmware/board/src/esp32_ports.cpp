#include "gpboard/esp32_ports.h"

#include <esp_system.h>
#include <esp_task_wdt.h>
#include <time.h>

#include "gp/analog.h"
#include "gp/log.h"

namespace gpboard {

// ---------------------------------------------------------------- flash

bool PartitionFlash::open(const char* label) {
  part_ = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY, label);
  if (part_ == nullptr) {
    GP_LOGE("board", "no data partition '%s': flash the partition table in partitions.csv", label);
    return false;
  }
  return true;
}

uint32_t PartitionFlash::size() const { return part_ ? static_cast<uint32_t>(part_->size) : 0; }

bool PartitionFlash::read(uint32_t addr, void* out, size_t len) {
  return part_ && esp_partition_read(part_, addr, out, len) == ESP_OK;
}

bool PartitionFlash::write(uint32_t addr, const void* data, size_t len) {
  return part_ && esp_partition_write(part_, addr, data, len) == ESP_OK;
}

bool PartitionFlash::erase_sector(uint32_t addr) {
  return part_ && esp_partition_erase_range(part_, addr, sector_size()) == ESP_OK;
}

// ---------------------------------------------------------------- NVS

bool NvsStore::open(const char* ns) {
  open_ = prefs_.begin(ns, false);
  if (!open_) GP_LOGE("board", "NVS namespace '%s' cannot be opened", ns);
  return open_;
}

bool NvsStore::get_string(const char* key, std::string& out) {
  if (!open_ || !prefs_.isKey(key)) return false;
  String value = prefs_.getString(key);
  out.assign(value.c_str(), value.length());
  return true;
}

bool NvsStore::put_string(const char* key, const std::string& value) {
  return open_ && (prefs_.putString(key, value.c_str()) == value.size());
}

bool NvsStore::get_i64(const char* key, int64_t& out) {
  if (!open_ || !prefs_.isKey(key)) return false;
  out = prefs_.getLong64(key, 0);
  return true;
}

bool NvsStore::put_i64(const char* key, int64_t value) {
  return open_ && prefs_.putLong64(key, value) == sizeof(int64_t);
}

bool NvsStore::remove(const char* key) { return open_ && prefs_.remove(key); }

// ---------------------------------------------------------------- UART

void UartPort::begin(uint32_t baud, int rx_pin, int tx_pin) {
  serial_.begin(baud, SERIAL_8N1, rx_pin, tx_pin);
}

void UartPort::write(const uint8_t* data, size_t len) {
  serial_.write(data, len);
  serial_.flush();  // until the last bit is out: the answer starts right after
}

int UartPort::read_byte(uint32_t timeout_ms) {
  const uint32_t start = ::millis();
  while (serial_.available() <= 0) {
    if (::millis() - start >= timeout_ms) return -1;
    delay(1);
  }
  return serial_.read();
}

void UartPort::discard_input() {
  while (serial_.available() > 0) serial_.read();
}

// ---------------------------------------------------------------- ADC

bool AdcInput::burst_mv(uint8_t channel, uint16_t* out, size_t n, uint32_t window_ms) {
  if (channel >= kChannels || pins_[channel] < 0 || n == 0) return false;
  const uint32_t step_us = window_ms * 1000 / n;
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<uint16_t>(analogReadMilliVolts(static_cast<uint8_t>(pins_[channel])));
    delayMicroseconds(step_us > 60 ? step_us - 60 : 0);  // a conversion takes about 60 us
  }
  return true;
}

int32_t AdcInput::read_mv(uint8_t channel) {
  if (channel >= kChannels || pins_[channel] < 0) return gp::kNoValue;
  uint32_t sum = 0;
  for (int i = 0; i < 8; ++i) sum += analogReadMilliVolts(static_cast<uint8_t>(pins_[channel]));
  return static_cast<int32_t>(sum / 8);
}

// ---------------------------------------------------------------- time, randomness, watchdog

int64_t EspClock::epoch_s() { return static_cast<int64_t>(time(nullptr)); }

void EspClock::start_sync() {
  // UTC on the device; the cloud converts to the site's time zone.
  configTime(0, 0, "time.aws.com", "pool.ntp.org");
}

uint32_t EspRandom::next_u32() { return esp_random(); }  // hardware RNG (true random while Wi-Fi is on)

void TaskWatchdog::begin(uint32_t timeout_s) {
  // Reconfigures the task watchdog the core started, with a panic (= reboot) on expiry,
  // and subscribes the loop task. A TLS handshake takes 2-5 s; 30 s leaves room.
  esp_task_wdt_init(timeout_s, true);
  running_ = esp_task_wdt_add(nullptr) == ESP_OK;
}

void TaskWatchdog::feed() {
  if (running_) esp_task_wdt_reset();
}

// ---------------------------------------------------------------- lamp

void RelayLamp::begin() {
  if (relay_pin_ >= 0) {
    pinMode(relay_pin_, OUTPUT);
    digitalWrite(relay_pin_, LOW);
  }
  if (pwm_pin_ >= 0) {
    ledcSetup(kPwmChannel, 5000, 10);
    ledcAttachPin(static_cast<uint8_t>(pwm_pin_), kPwmChannel);
    ledcWrite(kPwmChannel, 0);
  }
}

void RelayLamp::set_outputs(const gp::LightOutputs& out) {
  if (relay_pin_ >= 0) digitalWrite(relay_pin_, out.relay ? HIGH : LOW);
  if (pwm_pin_ >= 0) ledcWrite(kPwmChannel, static_cast<uint32_t>(out.duty_percent) * 1023u / 100u);
}

int32_t RelayLamp::ambient_mv() { return adc_.read_mv(ldr_channel_); }

// ---------------------------------------------------------------- network

EspNetwork* EspNetwork::instance_ = nullptr;

void EspNetwork::configure(BrokerSettings settings) {
  b_ = std::move(settings);
  instance_ = this;
}

void EspNetwork::wifi_begin(const gp::WifiCredentials& creds) {
  WiFi.persistent(false);  // our NVS keeps the credentials; not the Wi-Fi driver's copy too
  WiFi.mode(WIFI_STA);
  WiFi.setAutoReconnect(false);  // the runtime reconnects, with backoff
  WiFi.begin(creds.ssid.c_str(), creds.password.c_str());
}

bool EspNetwork::wifi_connected() { return WiFi.status() == WL_CONNECTED; }

void EspNetwork::wifi_disconnect() { WiFi.disconnect(false, false); }

bool EspNetwork::mqtt_connect() {
  if (!configured()) {
    GP_LOGE("net", "no endpoint or certificate in NVS");
    return false;
  }
  tls_.stop();
  tls_.setCACert(b_.ca_pem.c_str());
  tls_.setCertificate(b_.cert_pem.c_str());
  tls_.setPrivateKey(b_.key_pem.c_str());
  tls_.setHandshakeTimeout(15);
  mqtt_.begin(b_.endpoint.c_str(), b_.port, tls_);
  mqtt_.setKeepAlive(60);
  mqtt_.setCleanSession(true);  // subscriptions are renewed on every connect; the backlog lives in flash
  mqtt_.setTimeout(5000);       // CONNACK / SUBACK / PUBACK wait
  mqtt_.onMessageAdvanced(&EspNetwork::on_mqtt_message);
  if (mqtt_.connect(b_.client_id.c_str())) return true;
  GP_LOGW("net", "MQTT connect failed: error %d, return code %d", static_cast<int>(mqtt_.lastError()),
          static_cast<int>(mqtt_.returnCode()));
  return false;
}

bool EspNetwork::mqtt_connected() { return mqtt_.connected(); }

void EspNetwork::mqtt_disconnect() { mqtt_.disconnect(); }

bool EspNetwork::subscribe(const std::string& topic_filter) { return mqtt_.subscribe(topic_filter.c_str(), 1); }

bool EspNetwork::publish(const std::string& topic, const std::string& payload) {
  return mqtt_.publish(topic.c_str(), payload.data(), static_cast<int>(payload.size()), false, 1);
}

void EspNetwork::poll() { mqtt_.loop(); }

void EspNetwork::on_mqtt_message(MQTTClient*, char topic[], char bytes[], int length) {
  if (instance_ == nullptr || instance_->handler_ == nullptr) return;
  instance_->handler_->on_message(std::string(topic), std::string(bytes ? bytes : "", bytes ? static_cast<size_t>(length) : 0));
}

}  // namespace gpboard
