#include "gp/log.h"

#include <cstdio>
#include <cstring>

namespace gp {
namespace {
LogSink g_sink = nullptr;
void* g_ctx = nullptr;
LogLevel g_min = LogLevel::Info;
}  // namespace

void set_log_sink(LogSink sink, void* ctx) {
  g_sink = sink;
  g_ctx = ctx;
}

void set_log_level(LogLevel min_level) { g_min = min_level; }

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "D";
    case LogLevel::Info: return "I";
    case LogLevel::Warn: return "W";
    case LogLevel::Error: return "E";
  }
  return "?";
}

void vlogf(LogLevel level, const char* tag, const char* fmt, va_list args) {
  if (g_sink == nullptr || static_cast<int>(level) < static_cast<int>(g_min)) return;
  char line[kMaxLogLine + 1];
  int n = std::vsnprintf(line, sizeof line, fmt, args);
  if (n > static_cast<int>(kMaxLogLine)) std::memcpy(line + kMaxLogLine - 3, "...", 4);
  g_sink(level, tag, line, g_ctx);
}

void logf(LogLevel level, const char* tag, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vlogf(level, tag, fmt, args);
  va_end(args);
}

}  // namespace gp
