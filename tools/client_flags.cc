#include "tools/client_flags.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace strata::tools {

absl::StatusOr<std::vector<client::HostPort>> BootstrapFlag(const cli::Args& args) {
  if (!args.Has("bootstrap")) {
    return absl::InvalidArgumentError("--bootstrap HOST:PORT is required");
  }
  return client::ParseBootstrap(args.Get("bootstrap"));
}

absl::StatusOr<std::pair<std::string, std::string>> SplitKeyValue(absl::string_view text,
                                                                  absl::string_view flag) {
  size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " expects name=value, got '", text, "'"));
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

absl::StatusOr<int16_t> AcksFlag(const cli::Args& args) {
  std::string text = args.Get("acks", "-1");
  if (text == "all") return int16_t{-1};
  int acks;
  if (!absl::SimpleAtoi(text, &acks) || (acks != 0 && acks != 1 && acks != -1)) {
    return absl::InvalidArgumentError(absl::StrCat("--acks must be 0, 1, -1 or all, not ", text));
  }
  return static_cast<int16_t>(acks);
}

absl::StatusOr<Compression> CompressionFlag(const cli::Args& args) {
  Compression codec;
  if (!ParseCompression(args.Get("compression", "none"), &codec)) {
    return absl::InvalidArgumentError("--compression must be none, gzip, snappy, lz4 or zstd");
  }
  return codec;
}

std::optional<int> ParseOrUsage(const std::vector<std::string>& argv,
                                const std::set<std::string>& bools,
                                const std::set<std::string>& values,
                                const std::set<std::string>& repeated, const char* usage,
                                cli::Args* args) {
  std::set<std::string> with_help = bools;
  with_help.insert("help");
  absl::Status s = args->Parse(argv, with_help, values, repeated);
  if (!s.ok()) return Usage(s, usage);
  if (args->Has("help")) {
    std::cout << usage;
    return 0;
  }
  return std::nullopt;
}

int Usage(const absl::Status& status, const char* usage) {
  std::cerr << status.message() << "\n" << usage;
  return 2;
}

int Fail(absl::string_view command, const absl::Status& status) {
  std::cerr << command << ": " << status.message() << "\n";
  return 1;
}

}  // namespace strata::tools
