// gridpulse/{thing}/commands for street lights, and the light's desired state
// in its shadow (state.desired.light), written by gridpulse.lights.service:
//   {"command_id": "<uuid>", "seq": 1.., "action": "on" | "off" | "auto",
//    "brightness"?: 0..100, "issued_at"?: "..."}
// `seq` rises by one per command of this light: the lamp applies a command
// only if its seq is newer than the last one it applied, so the newest command
// wins whatever order the topic and the shadow deliver them in. A command
// without a seq, with an unknown action, a brightness outside 0..100 or a
// command_id that is not a string of 1..64 bytes is ignored with a log line
// (and never crashes the device). Unknown extra keys are tolerated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "gp/json.h"

namespace gp {

enum class LightMode : uint8_t { Off = 0, On = 1, Auto = 2 };
const char* light_mode_name(LightMode m);

constexpr size_t kMaxCommandIdBytes = 64;

struct LightCommand {
  LightMode action = LightMode::Off;
  int brightness = -1;     // -1: not given (keep the current one)
  int64_t seq = -1;        // the cloud's per-light sequence number (required)
  std::string command_id;  // "" : none given
  bool has_action = true;  // false: a shadow delta that leaves the action as it was
};

constexpr size_t kMaxCommandBytes = 512;

// A command from gridpulse/{thing}/commands.
bool parse_light_command(const char* data, size_t len, LightCommand& out);

// desired.light (or the light part of a shadow delta, where `action` may be
// missing because it equals the reported one: then has_action is false).
// `source` names it in the log line ("command", "shadow").
bool light_command_from(const JsonValue& doc, bool action_required, const char* source, LightCommand& out);

}  // namespace gp
