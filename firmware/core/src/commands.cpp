#include "gp/commands.h"

#include <string>

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

bool light_command_from(const JsonValue& doc, bool action_required, const char* source, LightCommand& out) {
  const char* const tag = "command";
  if (!doc.is_object()) {
    GP_LOGW(tag, "%s ignored: not a JSON object", source);
    return false;
  }
  LightCommand cmd;
  const JsonValue* action = doc.get("action");
  if (action == nullptr) {
    if (action_required) {
      GP_LOGW(tag, "%s ignored: no action", source);
      return false;
    }
    cmd.has_action = false;
  } else {
    const std::string* a = action->is_string() ? &action->as_string() : nullptr;
    if (a != nullptr && *a == "on") cmd.action = LightMode::On;
    else if (a != nullptr && *a == "off") cmd.action = LightMode::Off;
    else if (a != nullptr && *a == "auto") cmd.action = LightMode::Auto;
    else {
      GP_LOGW(tag, "%s ignored: action must be \"on\", \"off\" or \"auto\"", source);
      return false;
    }
  }
  if (const JsonValue* b = doc.get("brightness")) {
    int64_t v;
    if (!b->get_integral(v) || v < 0 || v > 100) {
      GP_LOGW(tag, "%s ignored: brightness must be an integer 0..100", source);
      return false;
    }
    cmd.brightness = static_cast<int>(v);
  }
  const JsonValue* seq = doc.get("seq");
  int64_t s = 0;
  if (seq == nullptr || !seq->get_integral(s) || s < 1) {
    GP_LOGW(tag, "%s ignored: seq must be an integer from 1", source);
    return false;
  }
  cmd.seq = s;
  if (const JsonValue* id = doc.get("command_id")) {
    if (!id->is_string() || id->as_string().empty() || id->as_string().size() > kMaxCommandIdBytes) {
      GP_LOGW(tag, "%s ignored: command_id must be a string of 1..64 bytes", source);
      return false;
    }
    cmd.command_id = id->as_string();
  }
  out = cmd;
  return true;
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
  return light_command_from(doc, true, "command", out);
}

}  // namespace gp
