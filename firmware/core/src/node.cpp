#include "gp/node.h"

#include "gp/log.h"
#include "gp/timefmt.h"

namespace gp {
namespace {
const char* const kTag = "node";
constexpr size_t kMaxShadowBytes = 8 * 1024;
}  // namespace

Topics::Topics(const std::string& thing)
    : telemetry("gridpulse/" + thing + "/telemetry"),
      status("gridpulse/" + thing + "/status"),
      commands("gridpulse/" + thing + "/commands"),
      shadow_update("$aws/things/" + thing + "/shadow/update"),
      shadow_get("$aws/things/" + thing + "/shadow/get"),
      shadow_get_accepted("$aws/things/" + thing + "/shadow/get/accepted"),
      shadow_delta("$aws/things/" + thing + "/shadow/update/delta") {}

const char* Node::state_name(State s) {
  switch (s) {
    case State::Unprovisioned: return "unprovisioned";
    case State::WifiJoin: return "wifi-join";
    case State::TimeWait: return "time-wait";
    case State::MqttConnect: return "mqtt-connect";
    case State::Online: return "online";
    case State::Backoff: return "backoff";
  }
  return "?";
}

Node::Node(Identity id, NodeDeps deps, NodeTimings timings)
    : id_(std::move(id)),
      d_(deps),
      t_(timings),
      topics_(id_.thing_name),
      uplink_(d_.log, topics_.telemetry),
      mqtt_backoff_(t_.mqtt_backoff, d_.rng),
      wifi_backoff_(t_.wifi_backoff, d_.rng) {}

void Node::feed() {
  if (d_.watchdog) d_.watchdog->feed();
}

void Node::apply_config() {
  UplinkSettings s = uplink_.settings();
  s.batch_size = cfg_.batch_size;
  s.flush_after_s = 2 * cfg_.batch_size * cfg_.sample_interval_s;
  uplink_.set_settings(s);
  light_.set_min_current_ma(cfg_.lamp_min_current_ma);
}

bool Node::begin() {
  bool ok = d_.log.mounted() || d_.log.mount();
  if (!ok) GP_LOGE(kTag, "flash log unavailable: readings cannot be kept while offline");
  load_config(d_.kv, cfg_);
  apply_config();
  d_.kv.get_string(keys::kWifiSsid, wifi_.ssid);
  d_.kv.get_string(keys::kWifiPass, wifi_.password);
  if (id_.role == Role::Light) {
    int64_t mode = static_cast<int64_t>(LightMode::Auto), bri = 100;
    d_.kv.get_i64(keys::kLightMode, mode);
    d_.kv.get_i64(keys::kLightBrightness, bri);
    if (mode < 0 || mode > 2) mode = static_cast<int64_t>(LightMode::Auto);
    light_.restore(static_cast<LightMode>(mode), static_cast<int>(bri));
    int64_t seq = 0;
    if (d_.kv.get_i64(keys::kLightSeq, seq) && seq > 0) light_seq_ = seq;
    d_.kv.get_string(keys::kLightCommand, light_command_id_);
    if (light_command_id_.size() > kMaxCommandIdBytes) light_command_id_.clear();
  }
  d_.net.set_handler(this);
  state_since_ = d_.clock.millis();
  if (id_.thing_name.empty()) {
    state_ = State::Unprovisioned;
    GP_LOGE(kTag, "not provisioned (no thing name/certificate in NVS): measuring and storing only");
  } else {
    state_ = State::WifiJoin;
    GP_LOGI(kTag, "%s %s starting as %s; %u readings waiting in flash", role_name(id_.role), id_.firmware,
            id_.thing_name.c_str(), static_cast<unsigned>(d_.log.pending()));
  }
  return ok;
}

void Node::loop() {
  feed();
  const uint32_t now = d_.clock.millis();
  step_connection(now);
  if (state_ == State::Online) {
    d_.net.poll();
    process_inbox();
  }
  sample(now);
  if (id_.role == Role::Light && d_.lamp != nullptr) light_step(now);
  if (state_ == State::Online && d_.net.mqtt_connected()) publish_pending();
  feed();
}

// ---------------------------------------------------------------- connection

void Node::enter_backoff(Backoff& backoff, uint32_t now, const char* why) {
  const uint32_t delay = backoff.next_delay_ms();
  GP_LOGW(kTag, "%s; retrying in %u ms (attempt %u)", why, static_cast<unsigned>(delay),
          static_cast<unsigned>(backoff.attempts()));
  retry_at_ = now + delay;
  state_ = State::Backoff;
  state_since_ = now;
}

void Node::step_connection(uint32_t now) {
  switch (state_) {
    case State::Unprovisioned:
      return;
    case State::WifiJoin:
      if (!wifi_started_) {
        if (wifi_.empty()) {
          if (now - state_since_ >= 60000 || state_since_ == 0) {
            GP_LOGW(kTag, "no Wi-Fi credentials: provision the device (see firmware/README.md)");
            state_since_ = now ? now : 1;
          }
          return;
        }
        GP_LOGI(kTag, "joining Wi-Fi '%s'", wifi_.ssid.c_str());
        d_.net.wifi_begin(wifi_);
        wifi_started_ = true;
        state_since_ = now;
      }
      if (d_.net.wifi_connected()) {
        GP_LOGI(kTag, "Wi-Fi '%s' up", wifi_.ssid.c_str());
        wifi_backoff_.reset();
        if (wifi_trial_) {
          wifi_trial_ = false;
          d_.kv.put_string(keys::kWifiSsid, wifi_.ssid);
          d_.kv.put_string(keys::kWifiPass, wifi_.password);
          wifi_error_.clear();
          reported_dirty_ = true;
          GP_LOGI(kTag, "new Wi-Fi credentials kept");
        }
        if (!sync_started_) {
          d_.clock.start_sync();
          sync_started_ = true;
        }
        state_ = State::TimeWait;
        state_since_ = now;
        return;
      }
      if (now - state_since_ >= t_.wifi_join_timeout_ms) {
        wifi_started_ = false;
        d_.net.wifi_disconnect();
        if (wifi_trial_) {
          GP_LOGW(kTag, "could not join Wi-Fi '%s': going back to '%s'", wifi_.ssid.c_str(),
                  previous_wifi_.ssid.c_str());
          wifi_error_ = "could not join '" + wifi_.ssid + "'";
          failed_wifi_ = wifi_;
          wifi_ = previous_wifi_;
          wifi_trial_ = false;
          reported_dirty_ = true;
          state_since_ = now;
          return;
        }
        enter_backoff(wifi_backoff_, now, "Wi-Fi did not come up");
      }
      return;
    case State::TimeWait:
      if (!d_.net.wifi_connected()) {
        state_ = State::WifiJoin;
        wifi_started_ = false;
        return;
      }
      if (epoch_valid(d_.clock.epoch_s()) || now - state_since_ >= t_.time_sync_wait_ms) {
        if (!epoch_valid(d_.clock.epoch_s())) GP_LOGW(kTag, "no SNTP time yet; connecting anyway");
        state_ = State::MqttConnect;
        state_since_ = now;
      }
      return;
    case State::MqttConnect:
      if (!d_.net.wifi_connected()) {
        state_ = State::WifiJoin;
        wifi_started_ = false;
        return;
      }
      feed();
      if (!d_.net.mqtt_connect()) {
        enter_backoff(mqtt_backoff_, now, "MQTT connection failed");
        return;
      }
      feed();
      if (!on_connected()) {
        d_.net.mqtt_disconnect();
        enter_backoff(mqtt_backoff_, now, "subscriptions refused");
        return;
      }
      state_ = State::Online;
      state_since_ = now;
      return;
    case State::Online:
      if (!d_.net.mqtt_connected()) {
        enter_backoff(mqtt_backoff_, now, "MQTT connection lost");
        return;
      }
      if (mqtt_backoff_.attempts() > 0 && now - state_since_ >= t_.stable_connection_ms) mqtt_backoff_.reset();
      return;
    case State::Backoff:
      if (static_cast<int32_t>(now - retry_at_) < 0) return;
      if (d_.net.wifi_connected()) {
        state_ = State::MqttConnect;
      } else {
        state_ = State::WifiJoin;
        wifi_started_ = false;
      }
      state_since_ = now;
      return;
  }
}

bool Node::on_connected() {
  std::vector<std::string> filters = {topics_.shadow_delta, topics_.shadow_get_accepted};
  if (id_.role == Role::Light) filters.push_back(topics_.commands);
  for (const std::string& f : filters) {
    if (!d_.net.subscribe(f)) return false;
  }
  GP_LOGI(kTag, "connected to IoT Core as %s; %u readings waiting", id_.thing_name.c_str(),
          static_cast<unsigned>(d_.log.pending()));
  gate_.reset();
  reported_dirty_ = true;
  status_dirty_ = true;
  return d_.net.publish(topics_.shadow_get, "{}");
}

// ---------------------------------------------------------------- sampling

void Node::sample(uint32_t now) {
  const uint32_t interval_ms = cfg_.sample_interval_s * 1000;
  const int64_t epoch = d_.clock.epoch_s();
  if (epoch_valid(epoch) && !unstamped_.empty()) {
    GP_LOGI(kTag, "clock set: storing %u readings taken before", static_cast<unsigned>(unstamped_.size()));
    while (!unstamped_.empty()) {
      Reading r = unstamped_.front().first;
      r.epoch_s = epoch - static_cast<int64_t>((now - unstamped_.front().second) / 1000);
      unstamped_.pop_front();
      uplink_.store(r);
    }
  }
  if (have_sampled_ && now - last_sample_ms_ < interval_ms) return;
  const uint32_t elapsed = have_sampled_ ? now - last_sample_ms_ : 0;
  // Keep the cadence: the next sample is due one interval after this one was.
  last_sample_ms_ = have_sampled_ && elapsed < 2 * interval_ms ? last_sample_ms_ + interval_ms : now;
  have_sampled_ = true;
  Reading r;
  feed();
  if (!d_.sensor.measure(r, elapsed)) {
    GP_LOGW(kTag, "no measurement this time");
    return;
  }
  if (epoch_valid(epoch)) {
    r.epoch_s = epoch;
    uplink_.store(r);
    return;
  }
  if (unstamped_.size() >= t_.max_unstamped) {
    unstamped_.pop_front();
    GP_LOGW(kTag, "clock still not set: oldest unstamped reading dropped");
  }
  unstamped_.emplace_back(r, now);
}

// ---------------------------------------------------------------- messages

void Node::on_message(const std::string& topic, const std::string& payload) {
  // Called from inside poll() or while a publish waits for its PUBACK: only queue here.
  if (inbox_.size() >= t_.max_inbox) {
    GP_LOGW(kTag, "inbox full: message on %s dropped", topic.c_str());
    return;
  }
  inbox_.emplace_back(topic, payload);
}

void Node::process_inbox() {
  while (!inbox_.empty()) {
    std::pair<std::string, std::string> msg = std::move(inbox_.front());
    inbox_.pop_front();
    const std::string& topic = msg.first;
    const std::string& payload = msg.second;
    if (topic == topics_.commands && id_.role == Role::Light) {
      LightCommand cmd;
      if (parse_light_command(payload.data(), payload.size(), cmd)) apply_light(cmd, "command");
      continue;
    }
    if (topic != topics_.shadow_delta && topic != topics_.shadow_get_accepted) {
      GP_LOGW(kTag, "message on unexpected topic %s ignored", topic.c_str());
      continue;
    }
    JsonValue doc;
    std::string error;
    if (!json_parse(payload.data(), payload.size(), doc, &error, JsonLimits{kMaxShadowBytes, 8}) ||
        !doc.is_object()) {
      GP_LOGW(kTag, "shadow document ignored: %s", error.empty() ? "not an object" : error.c_str());
      continue;
    }
    const JsonValue* version = doc.get("version");
    int64_t v = 0;
    if (version != nullptr && version->get_integral(v) && !gate_.accept(v)) {
      GP_LOGI(kTag, "shadow version %lld already applied", static_cast<long long>(v));
      continue;
    }
    const JsonValue* state = doc.get("state");
    if (state == nullptr) continue;
    if (id_.role == Role::Light) light_from_shadow(*state, topic);
    if (topic == topics_.shadow_get_accepted) state = state->get("delta");  // only what differs
    if (state != nullptr) apply_state(*state);
  }
}

void Node::apply_state(const JsonValue& state) {
  const MergeResult m = merge_desired(state, id_.role, cfg_, wifi_);
  if (m.config_changed) {
    save_config(d_.kv, cfg_);
    apply_config();
  }
  reported_dirty_ = true;
  config_errors_ = m.errors;
  for (const auto& e : m.errors) {
    if (e.first == "wifi") clear_desired_wifi_ = true;  // do not leave a password we cannot use in the shadow
  }
  if (!m.wifi_requested) return;
  clear_desired_wifi_ = true;
  if (m.wifi == wifi_) {
    GP_LOGI(kTag, "Wi-Fi '%s' unchanged", wifi_.ssid.c_str());
    return;
  }
  if (m.wifi == failed_wifi_) {
    GP_LOGW(kTag, "Wi-Fi '%s' failed already; not trying it again", m.wifi.ssid.c_str());
    return;
  }
  GP_LOGI(kTag, "switching Wi-Fi from '%s' to '%s'", wifi_.ssid.c_str(), m.wifi.ssid.c_str());
  previous_wifi_ = wifi_;
  wifi_ = m.wifi;
  wifi_trial_ = true;
  d_.net.mqtt_disconnect();
  d_.net.wifi_disconnect();
  wifi_started_ = false;
  state_ = State::WifiJoin;
  state_since_ = d_.clock.millis();
}

// ---------------------------------------------------------------- lights

bool Node::apply_light(const LightCommand& cmd, const char* source) {
  if (cmd.seq <= light_seq_) {
    GP_LOGI(kTag, "%s ignored: seq %lld is not newer than %lld", source, static_cast<long long>(cmd.seq),
            static_cast<long long>(light_seq_));
    return false;
  }
  light_.apply(cmd);
  light_seq_ = cmd.seq;
  light_command_id_ = cmd.command_id;
  d_.kv.put_i64(keys::kLightMode, static_cast<int64_t>(light_.mode()));
  d_.kv.put_i64(keys::kLightBrightness, light_.brightness());
  d_.kv.put_i64(keys::kLightSeq, light_seq_);
  d_.kv.put_string(keys::kLightCommand, light_command_id_);
  reported_dirty_ = true;
  status_dirty_ = true;   // the status report carries the command's id: it confirms the command
  lamp_checked_ = false;  // act on it now
  return true;
}

// get/accepted: the whole desired.light (the delta leaves out what equals the
// reported state, which may lag what the lamp does). update/delta: its
// "light" part; one without the action asks for the whole document.
void Node::light_from_shadow(const JsonValue& state, const std::string& topic) {
  const bool whole = topic == topics_.shadow_get_accepted;
  const JsonValue* light = nullptr;
  if (whole) {
    const JsonValue* desired = state.get("desired");
    light = desired != nullptr ? desired->get("light") : nullptr;
  } else {
    light = state.get("light");
  }
  if (light == nullptr || light->is_null()) return;
  LightCommand cmd;
  if (!light_command_from(*light, whole, "shadow light", cmd)) return;
  if (!whole && (!cmd.has_action || cmd.brightness < 0) && cmd.seq > light_seq_) {
    GP_LOGI(kTag, "shadow delta for light seq %lld is partial: asking for the shadow", static_cast<long long>(cmd.seq));
    gate_.reset();  // the answer may carry this delta's version
    publish(topics_.shadow_get, "{}");
    return;
  }
  apply_light(cmd, whole ? "shadow light" : "shadow delta");
}

void Node::light_step(uint32_t now) {
  if (lamp_checked_ && now - last_lamp_check_ < t_.lamp_check_ms) return;
  lamp_checked_ = true;
  last_lamp_check_ = now;
  // Switch first (a command must act at once), then judge the current.
  bool changed = light_.update(now, d_.lamp->ambient_mv(), kNoValue);
  if (!lamp_out_set_ || light_.outputs() != lamp_out_) {
    lamp_out_ = light_.outputs();
    lamp_out_set_ = true;
    d_.lamp->set_outputs(lamp_out_);
  }
  feed();
  changed = light_.update(now, kNoValue, d_.sensor.current_ma()) || changed;
  if (changed) status_dirty_ = true;
}

// ---------------------------------------------------------------- publishing

Reported Node::reported() const {
  Reported r;
  r.role = id_.role;
  r.firmware = id_.firmware;
  r.config = cfg_;
  r.wifi_ssid = wifi_.ssid;
  r.wifi_error = wifi_error_;
  r.config_errors = config_errors_;
  r.clear_desired_wifi = clear_desired_wifi_;
  if (id_.role == Role::Light) {
    r.light_mode = light_mode_name(light_.mode());
    r.light_brightness = light_.brightness();
    r.light_seq = light_seq_;
    r.light_command_id = light_command_id_;
  }
  return r;
}

bool Node::publish(const std::string& topic, const std::string& payload) {
  feed();
  const bool ok = d_.net.publish(topic, payload);
  feed();
  return ok;
}

void Node::publish_pending() {
  if (reported_dirty_) {
    if (!publish(topics_.shadow_update, encode_reported(reported()))) return;
    reported_dirty_ = false;
    clear_desired_wifi_ = false;
  }
  if (id_.role == Role::Light && status_dirty_) {
    const std::string status = encode_status(light_.status(), light_.error_details(), light_command_id_.c_str());
    if (!publish(topics_.status, status)) return;
    status_dirty_ = false;
  }
  const int64_t epoch = d_.clock.epoch_s();
  if (epoch_valid(epoch)) uplink_.pump(*this, epoch, t_.max_messages_per_loop);
}

}  // namespace gp
