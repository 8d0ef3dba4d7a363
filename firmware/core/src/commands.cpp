#include "gp/commands.h"

#include <string>

#include "gp/json.h"
#include "gp/log.h"

namespace gp {

const char* light_mode_name(LightMode m) {
  switch (m) {
    case LightMode::Off: return "off";
    case LightMode::On: return "on";
    case LightMode::Auto: return "auto";
  }
  return "off";
}

bool parse_light_command(const char* data, size_t len, LightCommand& out) {
  const char* const tag = "command";
  if (len > kMaxCommandBytes) {
    GP_LOGW(tag, "command ignored: %u bytes is too large", static_cast<unsigned>(len));
    return false;
  }
  JsonValue doc;
  std::string error;
  if (!json_parse(data, len, doc, &error, JsonLimits{kMaxCommandBytes, 4})) {
    GP_LOGW(tag, "command ignored: not JSON (%s)", error.c_str());
    return false;
  }
  if (!doc.is_object()) {
    GP_LOGW(tag, "command ignored: not a JSON object");
    return false;
  }
  const JsonValue* action = doc.get("action");
  if (action == nullptr) {
    GP_LOGW(tag, "command ignored: no action");
    return false;
  }
  LightCommand cmd;
  if (!action->is_string()) {
    GP_LOGW(tag, "command ignored: action must be \"on\", \"off\" or \"auto\"");
    return false;
  }
  const std::string& a = action->as_string();
  if (a == "on") cmd.action = LightMode::On;
  else if (a == "off") cmd.action = LightMode::Off;
  else if (a == "auto") cmd.action = LightMode::Auto;
  else {
    GP_LOGW(tag, "command ignored: action must be \"on\", \"off\" or \"auto\"");
    return false;
  }
  if (const JsonValue* b = doc.get("brightness")) {
    int64_t v;
    if (!b->get_integral(v) || v < 0 || v > 100) {
      GP_LOGW(tag, "command ignored: brightness must be an integer 0..100");
      return false;
    }
    cmd.brightness = static_cast<int>(v);
  }
  out = cmd;
  return true;
}

}  // namespace gp
