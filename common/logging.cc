#include "common/logging.h"

#include <time.h>
#include <unistd.h>

#include "absl/strings/ascii.h"

namespace strata {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kOff:
      return "OFF";
  }
  return "?";
}

bool NeedsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "debug") *level = LogLevel::kDebug;
  else if (t == "info") *level = LogLevel::kInfo;
  else if (t == "warn" || t == "warning") *level = LogLevel::kWarn;
  else if (t == "error") *level = LogLevel::kError;
  else if (t == "off") *level = LogLevel::kOff;
  else return false;
  return true;
}

LogLine::LogLine(LogLevel level, absl::string_view event)
    : enabled_(static_cast<int>(level) >= g_level.load(std::memory_order_relaxed)) {
  if (!enabled_) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc;
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[40];
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  absl::StrAppend(&line_, stamp, ".", absl::Dec(ts.tv_nsec / 1'000'000, absl::kZeroPad3), "Z ",
                  LevelName(level), " ", event);
}

void LogLine::AppendField(absl::string_view key, absl::string_view value) {
  absl::StrAppend(&line_, " ", key, "=");
  if (!NeedsQuotes(value)) {
    line_.append(value.data(), value.size());
    return;
  }
  line_.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') line_.push_back('\\');
    if (c == '\n') {
      line_.append("\\n");
      continue;
    }
    line_.push_back(c);
  }
  line_.push_back('"');
}

LogLine::~LogLine() {
  if (!enabled_) return;
  line_.push_back('\n');
  // One write per line keeps lines from different threads whole.
  ssize_t rc = ::write(STDERR_FILENO, line_.data(), line_.size());
  (void)rc;
}

}  // namespace strata
