// GridPulse street light: relay on GPIO26, dimmer PWM on GPIO25, LDR on
// GPIO36, lamp current from the PZEM-004T on UART2 (CT clamp on GPIO34 as
// fallback). Follows gridpulse/{thing}/commands and its shadow's desired.light
// (the newest seq wins) and reports on/off/error with the applied command's
// command_id on gridpulse/{thing}/status; sends telemetry like a meter.
#include <Arduino.h>

#include "gpboard/app.h"

namespace {

gpboard::BoardPins light_pins() {
  gpboard::BoardPins pins;
  pins.pzem_rx = 16;
  pins.pzem_tx = 17;
  pins.ct_adc = 34;
  pins.ntc_adc = 35;
  pins.relay = 26;
  pins.pwm = 25;
  pins.ldr_adc = 36;
  return pins;
}

gpboard::App app(gp::Role::Light, light_pins());

}  // namespace

void setup() { app.setup(); }

void loop() { app.loop(); }
