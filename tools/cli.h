// Argument parsing for the strata subcommands: positional arguments plus `--name value`,
// `--name=value` and boolean `--name` flags, checked against what the subcommand declares.
// Flags declared repeatable may be given several times (`--header a=1 --header b=2`).
//
//   Args args;
//   RETURN_IF_ERROR(args.Parse(argv, {"records", "print-data"}, {"max-bytes"}, {"header"}));
//   bool records = args.Has("records");
//   int64_t max = args.GetInt("max-bytes", 1 << 20, &error);
//   for (const std::string& h : args.GetAll("header")) ...
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strata::cli {

class Args {
 public:
  // `bools` take no value; `values` take one (a repeated one: the last wins); `repeated` take
  // one each time they appear. Anything else starting with "--" is an error.
  absl::Status Parse(const std::vector<std::string>& argv, const std::set<std::string>& bools,
                     const std::set<std::string>& values,
                     const std::set<std::string>& repeated = {});
  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(const std::string& name) const { return flags_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // Every value of a repeatable flag, in command-line order.
  std::vector<std::string> GetAll(const std::string& name) const;
  // Parses an integer flag; `*error` is set (and fallback returned) when it is not one.
  int64_t GetInt(const std::string& name, int64_t fallback, absl::Status* error) const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> flags_;
  std::map<std::string, std::vector<std::string>> repeated_;
};

// Parses sizes like "1048576", "64KiB", "1MiB", "2GiB", "10MB".
bool ParseBytes(absl::string_view text, uint64_t* out);
// "1.5 GiB", "12.0 KiB", "512 B".
std::string HumanBytes(uint64_t bytes);

// A progress bar on stderr, drawn only when stderr is a terminal, at most every 100 ms.
class Progress {
 public:
  Progress(std::string label, uint64_t total);
  ~Progress();
  void Advance(uint64_t delta);
  void Finish();

 private:
  void Draw(bool final);
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  int64_t last_draw_ns_ = 0;
  bool enabled_;
  bool finished_ = false;
};

}  // namespace strata::cli
