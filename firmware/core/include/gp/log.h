// Logging for the portable core: one printf-style call, one pluggable sink.
// On the board the sink writes to Serial; host tests install a sink that
// captures lines. Nothing secret (Wi-Fi password, private key) is ever passed here.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace gp {

enum class LogLevel : unsigned char { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// `line` is the formatted message without a newline; it is only valid during the call.
using LogSink = void (*)(LogLevel level, const char* tag, const char* line, void* ctx);

void set_log_sink(LogSink sink, void* ctx = nullptr);
void set_log_level(LogLevel min_level);
const char* level_name(LogLevel level);

void logf(LogLevel level, const char* tag, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void vlogf(LogLevel level, const char* tag, const char* fmt, va_list args);

constexpr size_t kMaxLogLine = 200;  // longer lines are cut (and end with "...")

}  // namespace gp

#define GP_LOGD(tag, ...) ::gp::logf(::gp::LogLevel::Debug, tag, __VA_ARGS__)
#define GP_LOGI(tag, ...) ::gp::logf(::gp::LogLevel::Info, tag, __VA_ARGS__)
#define GP_LOGW(tag, ...) ::gp::logf(::gp::LogLevel::Warn, tag, __VA_ARGS__)
#define GP_LOGE(tag, ...) ::gp::logf(::gp::LogLevel::Error, tag, __VA_ARGS__)
