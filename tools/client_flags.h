// Flag handling shared by the commands built on the client library (topic, produce, consume,
// bench): the bootstrap list, key=value pairs, acks, and the usual exit paths.
//
//   ASSIGN_OR_RETURN(std::vector<client::HostPort> bootstrap, BootstrapFlag(args));
//   ASSIGN_OR_RETURN(auto kv, SplitKeyValue("retention.ms=1000", "--config"));
//   if (!s.ok()) return Fail("strata produce", s);     // prints, returns 1
//   if (!flag.ok()) return Usage(flag.status(), kUsage); // prints, returns 2
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/connection.h"
#include "log/compression.h"
#include "tools/cli.h"

namespace strata::tools {

// --bootstrap HOST:PORT[,HOST:PORT...], required.
absl::StatusOr<std::vector<client::HostPort>> BootstrapFlag(const cli::Args& args);
// "name=value" → {name, value}; the value may be empty, the name may not.
absl::StatusOr<std::pair<std::string, std::string>> SplitKeyValue(absl::string_view text,
                                                                  absl::string_view flag);
// --acks: 0, 1, -1 or all (default -1).
absl::StatusOr<int16_t> AcksFlag(const cli::Args& args);
// --compression: none|gzip|snappy|lz4|zstd (default none).
absl::StatusOr<Compression> CompressionFlag(const cli::Args& args);

// Parses `argv` (--help is always accepted). nullopt: go on. Otherwise the command should exit
// with the value, after this printed the usage on stdout (--help: 0) or the problem and the
// usage on stderr (2).
std::optional<int> ParseOrUsage(const std::vector<std::string>& argv,
                                const std::set<std::string>& bools,
                                const std::set<std::string>& values,
                                const std::set<std::string>& repeated, const char* usage,
                                cli::Args* args);
// A bad flag value: prints the problem and the usage on stderr, returns 2.
int Usage(const absl::Status& status, const char* usage);
// A failure at run time: prints "<command>: <message>" on stderr, returns 1.
int Fail(absl::string_view command, const absl::Status& status);

}  // namespace strata::tools
