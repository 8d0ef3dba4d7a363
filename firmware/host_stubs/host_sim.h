// The world the host stand-ins (Arduino.h, WiFi.h, MQTTClient.h, ...) live in:
// simulated time, a Wi-Fi network, an MQTT broker, NVS, the "rbuf" flash
// partition, ADC pins, GPIOs and a PZEM-004T answering on Serial2. Tests set
// it up, call setup()/loop() of a sketch and look at what came out.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace host_sim {

struct Published {
  std::string topic;
  std::string payload;
  int qos;
};

struct Pzem {
  bool present = true;
  uint16_t voltage_dv = 2301;
  uint32_t current_ma = 1234;
  uint32_t power_dw = 2839;
  uint32_t energy_wh = 1234567;
  uint16_t frequency_dhz = 500;
  uint16_t power_factor_c = 98;
  uint16_t alarm = 0;
  uint32_t requests = 0;
};

struct World {
  // time
  uint64_t now_us = 0;
  int64_t epoch_at_boot = 0;  // the SNTP answer, applied when configTime() is called
  bool time_set = false;
  int64_t epoch_offset = 0;   // epoch = epoch_offset + now_ms / 1000 once set
  // Wi-Fi
  std::string ap_ssid = "hotel-wifi", ap_password = "wifi-pass-1";
  bool ap_up = true;
  std::string joined_ssid;
  bool wifi_connected = false;
  uint32_t wifi_begin_calls = 0;
  // broker
  bool broker_up = true;
  std::string broker_host;
  std::string accept_client_id;  // empty: any
  bool tls_has_cert = false, tls_has_key = false, tls_has_ca = false;
  bool mqtt_connected = false;
  uint32_t connects = 0;
  std::vector<std::string> subscriptions;
  std::vector<Published> published;
  std::deque<std::pair<std::string, std::string>> to_device;  // delivered on the next loop()
  // storage
  std::map<std::string, std::string> nvs_strings;  // "namespace/key"
  std::map<std::string, int64_t> nvs_numbers;
  std::vector<uint8_t> rbuf = std::vector<uint8_t>(64 * 4096, 0xFF);
  // I/O
  std::map<int, uint32_t> adc_mv;
  std::map<int, int> gpio;
  std::map<int, uint32_t> ledc_duty;
  Pzem pzem;
  std::string serial_out;  // what the sketch printed on Serial (logs)
  std::vector<uint8_t> uart2_rx;  // bytes waiting for Serial2.read()
  std::vector<uint8_t> uart2_tx;  // request bytes being assembled
  // watchdog
  bool wdt_initialised = false;
  uint32_t wdt_feeds = 0;
};

World& world();
void reset();
void advance_ms(uint32_t ms);
uint32_t millis();

// Provisions NVS as tools/provision.py does from a POST /devices response.
void provision(const std::string& thing_name, const std::string& ssid, const std::string& password);

std::vector<Published> published_on(const std::string& topic);

}  // namespace host_sim
