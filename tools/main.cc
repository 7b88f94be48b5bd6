// strata: one binary, many subcommands.
#include <execinfo.h>

#include <iostream>
#include <map>
#include <string>

#include "absl/debugging/stacktrace.h"
#include "absl/debugging/symbolize.h"
#include "common/logging.h"
#include "tools/commands.h"

namespace {

#ifndef NDEBUG
// Abseil's own unwinder follows frame pointers, which Debian's libabsl omits: the stacks in
// its reports (a lock-order cycle, found in debug and sanitizer builds) come out empty. glibc's
// backtrace() unwinds with the DWARF tables instead.
int UnwindWithBacktrace(void** pcs, int* sizes, int max_depth, int skip_count, const void*,
                        int* min_dropped_frames) {
  void* frames[64];
  const int n = backtrace(frames, 64);
  int out = 0;
  for (int i = skip_count + 1; i < n && out < max_depth; ++i, ++out) {
    pcs[out] = frames[i];
    if (sizes != nullptr) sizes[out] = 0;
  }
  if (min_dropped_frames != nullptr) *min_dropped_frames = 0;
  return out;
}
#endif

constexpr char kUsage[] =
    "usage: strata <command> [args]\n"
    "\n"
    "Broker:\n"
    "  serve                   run a broker (Kafka protocol) until SIGTERM/SIGINT\n"
    "\n"
    "Clients (Kafka protocol, --bootstrap HOST:PORT):\n"
    "  topic <command>         create|list|describe|delete|alter-config|add-partitions topics\n"
    "  produce                 send stdin lines (or generated records) to a topic\n"
    "  consume                 print records of a topic\n"
    "  bench produce|consume   end-to-end throughput and latency through the client library\n"
    "  group <command>         list|describe|reset-offsets|delete consumer groups\n"
    "\n"
    "Cluster (reads the metadata store, --metadata etcd://HOST:PORT):\n"
    "  cluster status          live brokers, controller and its epoch\n"
    "\n"
    "Storage tools:\n"
    "  log dump <file|dir>     print batches, records and index entries (like kafka-dump-log)\n"
    "  log verify <dir>        check CRCs, offsets, indexes and checkpoints; exit 1 on problems\n"
    "  log generate <data-dir> write a partition of generated records\n"
    "  log compact <dir>       compact a partition offline (broker stopped); --dry-run\n"
    "\n"
    "Run 'strata <command> --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
#ifndef NDEBUG
  // Readable stacks in Abseil's reports of a potential deadlock (the broker then dies).
  absl::InitializeSymbolizer(argv[0]);
  void* warm[1];
  backtrace(warm, 1);  // loads the unwinder now, not inside a Mutex's deadlock check
  absl::SetStackUnwinder(UnwindWithBacktrace);
#endif
  std::vector<std::string> args(argv + 1, argv + argc);
  if (const char* level = getenv("STRATA_LOG_LEVEL")) {
    strata::LogLevel l;
    if (strata::ParseLogLevel(level, &l)) strata::SetLogLevel(l);
  }
  using Command = int (*)(const strata::tools::Argv&);
  const std::map<std::string, Command> log_commands = {
      {"dump", strata::tools::LogDump},
      {"verify", strata::tools::LogVerify},
      {"generate", strata::tools::LogGenerate},
      {"compact", strata::tools::LogCompact},
  };
  if (args.size() >= 2 && args[0] == "log") {
    auto it = log_commands.find(args[1]);
    if (it != log_commands.end()) {
      return it->second(strata::tools::Argv(args.begin() + 2, args.end()));
    }
  }
  const std::map<std::string, Command> commands = {
      {"serve", strata::tools::Serve},     {"topic", strata::tools::Topic},
      {"produce", strata::tools::Produce}, {"consume", strata::tools::Consume},
      {"bench", strata::tools::Bench},     {"group", strata::tools::Group},
      {"cluster", strata::tools::Cluster},
  };
  if (!args.empty()) {
    auto it = commands.find(args[0]);
    if (it != commands.end()) return it->second(strata::tools::Argv(args.begin() + 1, args.end()));
  }
  if (!args.empty() && (args[0] == "--help" || args[0] == "help" || args[0] == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << kUsage;
  return 2;
}
