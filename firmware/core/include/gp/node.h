// The device runtime, board-independent: Wi-Fi, time, MQTT connection with
// backoff, sampling into the flash log, publishing the backlog, shadow and
// commands. The board supplies the ports below; setup()/loop() call begin()/loop().
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "gp/backoff.h"
#include "gp/config.h"
#include "gp/kv.h"
#include "gp/light.h"
#include "gp/ring_log.h"
#include "gp/sensor.h"
#include "gp/uplink.h"

namespace gp {

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  virtual void on_message(const std::string& topic, const std::string& payload) = 0;
};

// Wi-Fi + MQTT over mutual TLS. The certificate, key and CA stay inside the
// implementation (loaded from NVS): the runtime never sees them.
class Network {
 public:
  virtual ~Network() = default;
  virtual void wifi_begin(const WifiCredentials& creds) = 0;
  virtual bool wifi_connected() = 0;
  virtual void wifi_disconnect() = 0;
  virtual bool mqtt_connect() = 0;  // TLS handshake and CONNECT as the thing (blocks a few seconds)
  virtual bool mqtt_connected() = 0;
  virtual void mqtt_disconnect() = 0;
  virtual bool subscribe(const std::string& topic_filter) = 0;
  virtual bool publish(const std::string& topic, const std::string& payload) = 0;  // QoS 1, true on PUBACK
  virtual void poll() = 0;  // keep-alive; delivers incoming messages to the handler
  void set_handler(MessageHandler* handler) { handler_ = handler; }

 protected:
  MessageHandler* handler_ = nullptr;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint32_t millis() = 0;
  virtual int64_t epoch_s() = 0;  // below kMinValidEpoch until SNTP has set it
  virtual void start_sync() = 0;  // SNTP
};

class Watchdog {
 public:
  virtual ~Watchdog() = default;
  virtual void feed() = 0;
};

class LampDriver {
 public:
  virtual ~LampDriver() = default;
  virtual void set_outputs(const LightOutputs& out) = 0;
  virtual int32_t ambient_mv() = 0;  // kNoValue without an ambient light sensor
};

struct Identity {
  std::string thing_name;
  Role role = Role::Meter;
  const char* firmware = "0.0.0";
};

struct Topics {
  explicit Topics(const std::string& thing);
  std::string telemetry, status, commands, shadow_update, shadow_get, shadow_get_accepted, shadow_delta;
};

struct NodeDeps {
  Network& net;
  Clock& clock;
  Sensor& sensor;
  RingLog& log;
  KvStore& kv;
  Random& rng;
  Watchdog* watchdog = nullptr;
  LampDriver* lamp = nullptr;  // lights only
};

struct NodeTimings {
  uint32_t wifi_join_timeout_ms = 20000;
  uint32_t time_sync_wait_ms = 30000;   // TLS checks certificate dates: wait this long for SNTP
  uint32_t stable_connection_ms = 60000;  // a connection this old resets the backoff
  uint32_t lamp_check_ms = 1000;
  size_t max_messages_per_loop = 4;
  size_t max_unstamped = 240;          // readings kept in RAM until the clock is set (2 h at 30 s)
  size_t max_inbox = 8;
  BackoffPolicy mqtt_backoff{1000, 5 * 60 * 1000, 500};
  BackoffPolicy wifi_backoff{2000, 2 * 60 * 1000, 500};
};

class Node : public MessageHandler, private Publisher {
 public:
  enum class State : unsigned char { Unprovisioned, WifiJoin, TimeWait, MqttConnect, Online, Backoff };

  Node(Identity id, NodeDeps deps, NodeTimings timings = NodeTimings());
  bool begin();
  void loop();
  void on_message(const std::string& topic, const std::string& payload) override;

  State state() const { return state_; }
  static const char* state_name(State s);
  const DeviceConfig& config() const { return cfg_; }
  const WifiCredentials& wifi() const { return wifi_; }
  Uplink& uplink() { return uplink_; }
  LightController& light() { return light_; }
  int64_t light_seq() const { return light_seq_; }
  const std::string& light_command_id() const { return light_command_id_; }
  size_t unstamped() const { return unstamped_.size(); }
  const Topics& topics() const { return topics_; }

 private:
  bool publish(const std::string& topic, const std::string& payload) override;
  void feed();
  void step_connection(uint32_t now);
  void enter_backoff(Backoff& backoff, uint32_t now, const char* why);
  bool on_connected();
  void sample(uint32_t now);
  void process_inbox();
  void apply_state(const JsonValue& state);
  bool apply_light(const LightCommand& cmd, const char* source);
  void light_from_shadow(const JsonValue& doc, const std::string& topic);
  void light_step(uint32_t now);
  void publish_pending();
  void apply_config();
  Reported reported() const;

  Identity id_;
  NodeDeps d_;
  NodeTimings t_;
  Topics topics_;
  Uplink uplink_;
  LightController light_;
  DeviceConfig cfg_;
  WifiCredentials wifi_, previous_wifi_, failed_wifi_;
  bool wifi_trial_ = false;
  std::string wifi_error_;
  std::vector<std::pair<std::string, std::string>> config_errors_;
  bool clear_desired_wifi_ = false;
  ShadowVersionGate gate_;
  Backoff mqtt_backoff_, wifi_backoff_;

  State state_ = State::WifiJoin;
  bool wifi_started_ = false;
  bool sync_started_ = false;
  uint32_t state_since_ = 0;
  uint32_t retry_at_ = 0;
  bool have_sampled_ = false;
  uint32_t last_sample_ms_ = 0;
  uint32_t last_lamp_check_ = 0;
  bool lamp_checked_ = false;
  LightOutputs lamp_out_;
  bool lamp_out_set_ = false;
  bool reported_dirty_ = true;
  bool status_dirty_ = true;
  int64_t light_seq_ = 0;          // seq of the last light command applied (NVS: light_seq)
  std::string light_command_id_;   // its command_id (NVS: light_cmd)
  std::deque<std::pair<Reading, uint32_t>> unstamped_;
  std::deque<std::pair<std::string, std::string>> inbox_;
};

}  // namespace gp
