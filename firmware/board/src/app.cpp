#include "gpboard/app.h"

#include "gp/log.h"

namespace gpboard {
namespace {
constexpr uint8_t kCtChannel = 0, kNtcChannel = 1, kLdrChannel = 2;
}

void App::serial_log(gp::LogLevel level, const char* tag, const char* line, void*) {
  Serial.printf("%10lu %s %s: %s\n", static_cast<unsigned long>(::millis()), gp::level_name(level), tag, line);
}

void App::setup() {
  Serial.begin(115200);
  gp::set_log_sink(&App::serial_log);
  watchdog_.begin(30);
  if (pins_.status_led >= 0) pinMode(pins_.status_led, OUTPUT);

  kv_.open("gridpulse");
  gp::Identity id;
  id.role = role_;
  id.firmware = GP_FIRMWARE_VERSION;
  kv_.get_string(gp::keys::kThingName, id.thing_name);

  // The certificate, key and CA go from NVS straight to the TLS client; they are never logged.
  BrokerSettings broker;
  kv_.get_string(gp::keys::kEndpoint, broker.endpoint);
  int64_t port = 8883;
  kv_.get_i64(gp::keys::kPort, port);
  broker.port = static_cast<uint16_t>(port);
  broker.client_id = id.thing_name;
  kv_.get_string(gp::keys::kCertPem, broker.cert_pem);
  kv_.get_string(gp::keys::kKeyPem, broker.key_pem);
  kv_.get_string(gp::keys::kCaPem, broker.ca_pem);
  net_.configure(std::move(broker));
  if (!net_.configured()) id.thing_name.clear();  // measure and store, but do not try to connect

  flash_.open("rbuf");
  log_.reset(new gp::RingLog(flash_));
  log_->mount();

  adc_.set_pin(kCtChannel, pins_.ct_adc);
  adc_.set_pin(kNtcChannel, pins_.ntc_adc);
  adc_.set_pin(kLdrChannel, pins_.ldr_adc);
  uart_.reset(new UartPort(Serial2));
  uart_->begin(9600, pins_.pzem_rx, pins_.pzem_tx);
  energy_.reset(new gp::EnergyCounter(&kv_));
  pzem_.reset(new gp::PzemClient(*uart_));
  gp::MeterSensorSettings ms;
  ms.ct_channel = kCtChannel;
  ms.ntc_channel = pins_.ntc_adc >= 0 ? kNtcChannel : gp::kNoChannel;
  sensor_.reset(new gp::MeterSensor(*pzem_, adc_, *energy_, ms));

  gp::LampDriver* lamp = nullptr;
  if (role_ == gp::Role::Light) {
    lamp_.reset(new RelayLamp(adc_, pins_.relay, pins_.pwm, kLdrChannel));
    lamp_->begin();
    lamp = lamp_.get();
  }
  gp::NodeDeps deps{net_, clock_, *sensor_, *log_, kv_, rng_, &watchdog_, lamp};
  node_.reset(new gp::Node(id, deps));
  node_->begin();
}

void App::loop() {
  node_->loop();
  if (pins_.status_led >= 0) digitalWrite(pins_.status_led, node_->state() == gp::Node::State::Online ? HIGH : LOW);
  delay(10);  // let the Wi-Fi and TCP/IP tasks run
}

}  // namespace gpboard
