// Levelled, structured log lines (logfmt), one write(2) per line to stderr:
//
//   2026-11-23T14:08:27.123Z WARN log.truncated_tail partition=orders-3 dropped_bytes=4113
//
//   LOG_EVENT(Warn, "log.truncated_tail").Kv("partition", name).Kv("dropped_bytes", n);
//
// The event name is a stable, greppable identifier; details go in key=value fields (values with
// spaces or quotes are quoted). Lines below the global level are not formatted at all.
// Thread-safe.
#pragma once

#include <atomic>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace strata {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warn", "error", "off".
bool ParseLogLevel(absl::string_view text, LogLevel* level);

class LogLine {
 public:
  LogLine(LogLevel level, absl::string_view event);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& Kv(absl::string_view key, const T& value) {
    if (enabled_) AppendField(key, absl::StrCat(value));
    return *this;
  }
  LogLine& Kv(absl::string_view key, absl::string_view value) {
    if (enabled_) AppendField(key, value);
    return *this;
  }
  LogLine& Kv(absl::string_view key, const std::string& value) {
    return Kv(key, absl::string_view(value));
  }
  LogLine& Kv(absl::string_view key, const char* value) { return Kv(key, absl::string_view(value)); }

 private:
  void AppendField(absl::string_view key, absl::string_view value);
  bool enabled_;
  std::string line_;
};

}  // namespace strata

#define LOG_EVENT(level, event) ::strata::LogLine(::strata::LogLevel::k##level, event)
