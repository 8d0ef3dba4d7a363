// What setup() and loop() of both sketches do: read the identity from NVS,
// build the ports, start the runtime. The pin map comes from the sketch.
#pragma once

#include <memory>

#include "gp/config.h"
#include "gp/energy.h"
#include "gp/log.h"
#include "gp/node.h"
#include "gp/ring_log.h"
#include "gp/sensor.h"
#include "gpboard/esp32_ports.h"

#ifndef GP_FIRMWARE_VERSION
#define GP_FIRMWARE_VERSION "1.0.0"
#endif

namespace gpboard {

struct BoardPins {
  int pzem_rx = 16;   // UART2 RX  <- PZEM TX
  int pzem_tx = 17;   // UART2 TX  -> PZEM RX
  int ct_adc = 34;    // CT clamp (burden + 1.65 V bias), ADC1 (ADC2 is unusable with Wi-Fi on)
  int ntc_adc = 35;   // NTC divider, ADC1
  int relay = -1;     // lights: relay driver
  int pwm = -1;       // lights: dimmer (LEDC)
  int ldr_adc = -1;   // lights: ambient light divider, ADC1
  int status_led = 2;
};

class App {
 public:
  App(gp::Role role, BoardPins pins) : role_(role), pins_(pins) {}
  void setup();
  void loop();
  gp::Node* node() { return node_.get(); }

 private:
  static void serial_log(gp::LogLevel level, const char* tag, const char* line, void* ctx);

  gp::Role role_;
  BoardPins pins_;
  NvsStore kv_;
  PartitionFlash flash_;
  EspClock clock_;
  EspRandom rng_;
  TaskWatchdog watchdog_;
  AdcInput adc_;
  EspNetwork net_;
  std::unique_ptr<UartPort> uart_;
  std::unique_ptr<gp::RingLog> log_;
  std::unique_ptr<gp::EnergyCounter> energy_;
  std::unique_ptr<gp::PzemClient> pzem_;
  std::unique_ptr<gp::MeterSensor> sensor_;
  std::unique_ptr<RelayLamp> lamp_;
  std::unique_ptr<gp::Node> node_;
};

}  // namespace gpboard
