#include "tools/cli.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"

namespace strata::cli {

absl::Status Args::Parse(const std::vector<std::string>& argv, const std::set<std::string>& bools,
                         const std::set<std::string>& values,
                         const std::set<std::string>& repeated) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (!absl::StartsWith(a, "--") || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (bools.count(name)) {
      if (has_value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      flags_[name] = "true";
    } else if (values.count(name) || repeated.count(name)) {
      if (!has_value) {
        if (i + 1 >= argv.size()) {
          return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        }
        value = argv[++i];
      }
      flags_[name] = value;
      if (repeated.count(name)) repeated_[name].push_back(value);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
  }
  return absl::OkStatus();
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? fallback : it->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  auto it = repeated_.find(name);
  return it == repeated_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::GetInt(const std::string& name, int64_t fallback, absl::Status* error) const {
  auto it = flags_.find(name);
  if (it == flags_.end()) return fallback;
  int64_t v;
  uint64_t bytes;
  if (absl::SimpleAtoi(it->second, &v)) return v;
  if (ParseBytes(it->second, &bytes)) return static_cast<int64_t>(bytes);
  *error = absl::InvalidArgumentError(absl::StrCat("--", name, ": not a number: ", it->second));
  return fallback;
}

bool ParseBytes(absl::string_view text, uint64_t* out) {
  text = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  uint64_t n;
  if (digits == 0 || !absl::SimpleAtoi(text.substr(0, digits), &n)) return false;
  std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text.substr(digits)));
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},           {"b", 1},          {"kib", 1ull << 10}, {"kb", 1000},
      {"k", 1ull << 10}, {"mib", 1ull << 20}, {"mb", 1000000},   {"m", 1ull << 20},
      {"gib", 1ull << 30}, {"gb", 1000000000}, {"g", 1ull << 30}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      *out = n * factor;
      return true;
    }
  }
  return false;
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.1f %s", v, units[u]);
}

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(isatty(STDERR_FILENO) && total > 0) {}

Progress::~Progress() { Finish(); }

void Progress::Advance(uint64_t delta) {
  done_ += delta;
  if (!enabled_) return;
  int64_t now = Clock::System()->MonotonicNanos();
  if (now - last_draw_ns_ < 100'000'000) return;
  last_draw_ns_ = now;
  Draw(false);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) Draw(true);
}

void Progress::Draw(bool final) {
  constexpr int kWidth = 30;
  double frac = total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done_) / total_);
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  fprintf(stderr, "\r%s [%s] %3d%% %s / %s%s", label_.c_str(), bar.c_str(),
          static_cast<int>(frac * 100), HumanBytes(done_).c_str(), HumanBytes(total_).c_str(),
          final ? "\n" : "");
  fflush(stderr);
}

}  // namespace strata::cli
