// The thin hardware layer: gp:: ports implemented with Arduino-ESP32 (2.0.x)
// and ESP-IDF calls. Everything here is glue; the logic is in core/.
#pragma once

#include <Arduino.h>
#include <MQTTClient.h>
#include <Preferences.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <esp_partition.h>

#include <string>

#include "gp/flash.h"
#include "gp/kv.h"
#include "gp/node.h"
#include "gp/sensor.h"

namespace gpboard {

// The store-and-forward log's data partition (partitions.csv: "rbuf", data, 0x40).
// It must not be flagged "encrypted": the log programs single words in place.
class PartitionFlash : public gp::Flash {
 public:
  bool open(const char* label);
  uint32_t size() const override;
  uint32_t sector_size() const override { return 4096; }
  bool read(uint32_t addr, void* out, size_t len) override;
  bool write(uint32_t addr, const void* data, size_t len) override;
  bool erase_sector(uint32_t addr) override;

 private:
  const esp_partition_t* part_ = nullptr;
};

// NVS through Preferences, namespace "gridpulse" (the "nvs" partition).
class NvsStore : public gp::KvStore {
 public:
  bool open(const char* ns = "gridpulse");
  bool get_string(const char* key, std::string& out) override;
  bool put_string(const char* key, const std::string& value) override;
  bool get_i64(const char* key, int64_t& out) override;
  bool put_i64(const char* key, int64_t value) override;
  bool remove(const char* key) override;

 private:
  Preferences prefs_;
  bool open_ = false;
};

class UartPort : public gp::SerialPort {
 public:
  explicit UartPort(HardwareSerial& serial) : serial_(serial) {}
  void begin(uint32_t baud, int rx_pin, int tx_pin);
  void write(const uint8_t* data, size_t len) override;
  int read_byte(uint32_t timeout_ms) override;
  void discard_input() override;

 private:
  HardwareSerial& serial_;
};

// ADC channels are indexes into `pins` (-1: not wired).
class AdcInput : public gp::AnalogIn {
 public:
  static constexpr int kChannels = 4;
  void set_pin(uint8_t channel, int pin) {
    if (channel < kChannels) pins_[channel] = pin;
  }
  bool burst_mv(uint8_t channel, uint16_t* out, size_t n, uint32_t window_ms) override;
  int32_t read_mv(uint8_t channel) override;

 private:
  int pins_[kChannels] = {-1, -1, -1, -1};
};

class EspClock : public gp::Clock {
 public:
  uint32_t millis() override { return ::millis(); }
  int64_t epoch_s() override;
  void start_sync() override;
};

class EspRandom : public gp::Random {
 public:
  uint32_t next_u32() override;
};

class TaskWatchdog : public gp::Watchdog {
 public:
  void begin(uint32_t timeout_s);
  void feed() override;

 private:
  bool running_ = false;
};

// Relay on a GPIO, dimming with LEDC PWM (10 bits, 5 kHz), LDR on an ADC channel.
class RelayLamp : public gp::LampDriver {
 public:
  RelayLamp(AdcInput& adc, int relay_pin, int pwm_pin, uint8_t ldr_channel)
      : adc_(adc), relay_pin_(relay_pin), pwm_pin_(pwm_pin), ldr_channel_(ldr_channel) {}
  void begin();
  void set_outputs(const gp::LightOutputs& out) override;
  int32_t ambient_mv() override;

 private:
  static constexpr uint8_t kPwmChannel = 0;
  AdcInput& adc_;
  int relay_pin_, pwm_pin_;
  uint8_t ldr_channel_;
};

struct BrokerSettings {
  std::string endpoint;   // the account's iot:Data-ATS endpoint
  uint16_t port = 8883;
  std::string client_id;  // the thing name: the device policy only lets a thing connect as itself
  std::string cert_pem, key_pem, ca_pem;  // from NVS; kept here for the life of the TLS client
};

// Wi-Fi station + MQTT 3.1.1 (256dpi/arduino-mqtt, lwmqtt) over WiFiClientSecure (mbedTLS, mutual TLS).
class EspNetwork : public gp::Network {
 public:
  static constexpr int kBufferBytes = 6 * 1024;  // > the 5 KB message cap plus topic and header

  EspNetwork() : mqtt_(kBufferBytes) {}
  void configure(BrokerSettings settings);
  bool configured() const { return !b_.endpoint.empty() && !b_.cert_pem.empty() && !b_.key_pem.empty(); }

  void wifi_begin(const gp::WifiCredentials& creds) override;
  bool wifi_connected() override;
  void wifi_disconnect() override;
  bool mqtt_connect() override;
  bool mqtt_connected() override;
  void mqtt_disconnect() override;
  bool subscribe(const std::string& topic_filter) override;
  bool publish(const std::string& topic, const std::string& payload) override;
  void poll() override;

 private:
  static void on_mqtt_message(MQTTClient* client, char topic[], char bytes[], int length);
  static EspNetwork* instance_;
  BrokerSettings b_;
  WiFiClientSecure tls_;
  MQTTClient mqtt_;
};

}  // namespace gpboard
