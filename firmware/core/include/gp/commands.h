// gridpulse/{thing}/commands for street lights:
//   {"action": "on" | "off" | "auto", "brightness"?: 0..100}
// Anything else is ignored with a log line (and never crashes the device).
// Unknown extra keys are tolerated so that the cloud can add some (a command id) later.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gp {

enum class LightMode : uint8_t { Off = 0, On = 1, Auto = 2 };
const char* light_mode_name(LightMode m);

struct LightCommand {
  LightMode action = LightMode::Off;
  int brightness = -1;  // -1: not given (keep the current one)
};

constexpr size_t kMaxCommandBytes = 512;

bool parse_light_command(const char* data, size_t len, LightCommand& out);

}  // namespace gp
