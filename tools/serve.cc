// strata serve: runs one broker until SIGTERM or SIGINT, then shuts down cleanly (stop
// accepting, finish in-flight requests, flush, write checkpoints) and exits 0.
#include <signal.h>

#include <iostream>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "server/broker.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata serve [--config server.properties] [--data-dir DIR] [--listen HOST:PORT]\n"
    "                    [--advertised HOST:PORT] [--broker-id N]\n"
    "                    [--metadata embedded|etcd://HOST:PORT]\n"
    "                    [--set name=value ...] [--log-level info] [--ready-file PATH]\n"
    "  Defaults: --data-dir ./data, --listen 127.0.0.1:9092, --broker-id 0. Command-line flags\n"
    "  override server.properties; --set sets any broker property (repeatable).\n"
    "  --ready-file: once serving, write HOST:PORT there (useful with --listen 127.0.0.1:0).\n"
    "  --metadata etcd://HOST:PORT joins the cluster coordinated by that etcd (each broker with\n"
    "  its own --broker-id and --data-dir); see 'strata cluster status'.\n";

absl::StatusOr<server::BrokerConfig> BuildConfig(const cli::Args& args,
                                                 const std::vector<std::string>& sets) {
  server::BrokerConfig config;
  if (args.Has("config")) {
    auto loaded = server::BrokerConfig::Load(args.Get("config"));
    if (!loaded.ok()) return loaded.status();
    config = std::move(*loaded);
  }
  std::vector<std::pair<std::string, std::string>> flags = {{"data-dir", "log.dirs"},
                                                            {"listen", "listeners"},
                                                            {"advertised", "advertised.listeners"},
                                                            {"broker-id", "broker.id"},
                                                            {"metadata", "strata.metadata"}};
  for (const auto& [flag, property] : flags) {
    if (args.Has(flag)) RETURN_IF_ERROR(config.Set(property, args.Get(flag)));
  }
  for (const std::string& kv : sets) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) return absl::InvalidArgumentError("--set expects name=value");
    RETURN_IF_ERROR(config.Set(kv.substr(0, eq), kv.substr(eq + 1)));
  }
  return config;
}

// --set may repeat: its values go to `sets`, the other arguments to `rest` (parsed normally).
void SplitSets(const Argv& argv, std::vector<std::string>* rest, std::vector<std::string>* sets) {
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--set" && i + 1 < argv.size()) {
      sets->push_back(argv[++i]);
    } else if (absl::StartsWith(argv[i], "--set=")) {
      sets->push_back(argv[i].substr(6));
    } else {
      rest->push_back(argv[i]);
    }
  }
}

}  // namespace

int Serve(const Argv& argv) {
  std::vector<std::string> rest, sets;
  SplitSets(argv, &rest, &sets);
  cli::Args args;
  absl::Status parsed = args.Parse(rest, {"help"},
                                   {"config", "data-dir", "listen", "advertised", "broker-id",
                                    "metadata", "log-level", "ready-file"});
  if (!parsed.ok() || args.Has("help") || !args.positional().empty()) {
    std::cerr << (parsed.ok() ? "" : std::string(parsed.message()) + "\n") << kUsage;
    return 2;
  }
  if (args.Has("log-level")) {
    LogLevel level;
    if (!ParseLogLevel(args.Get("log-level"), &level)) {
      std::cerr << "unknown --log-level\n" << kUsage;
      return 2;
    }
    SetLogLevel(level);
  }
  auto config = BuildConfig(args, sets);
  if (!config.ok()) {
    std::cerr << "strata serve: " << config.status().message() << "\n";
    return 2;
  }
  // Block the stop signals in every thread; this thread waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
#ifdef NDEBUG
  // absl::Mutex's lock-order graph (GraphCycles) costs on every Lock; debug and sanitizer
  // builds keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  // A stop signal while the broker waits for its metadata store ends the wait.
  auto stop_requested = [&stop] {
    timespec now{0, 0};
    return sigtimedwait(&stop, nullptr, &now) > 0;
  };
  auto broker =
      server::Broker::Start(FileSystem::Default(), *config, Clock::System(), stop_requested);
  if (!broker.ok() && absl::IsCancelled(broker.status())) {
    LOG_EVENT(Info, "broker.stopped").Kv("before_start", broker.status().message());
    return 0;
  }
  if (!broker.ok()) {
    LOG_EVENT(Error, "broker.start_failed").Kv("error", broker.status().ToString());
    std::cerr << "strata serve: " << broker.status().message() << "\n";
    return 1;
  }
  if (args.Has("ready-file")) {
    std::string where = server::HostPort{config->listen.host, (*broker)->port()}.ToString();
    absl::Status w =
        WriteFileAtomically(FileSystem::Default(), args.Get("ready-file"), where + "\n");
    if (!w.ok()) LOG_EVENT(Error, "broker.ready_file_failed").Kv("error", w.ToString());
  }
  int sig = 0;
  sigwait(&stop, &sig);
  LOG_EVENT(Info, "broker.signal").Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  absl::Status s = (*broker)->Shutdown();
  return s.ok() ? 0 : 1;
}

}  // namespace strata::tools
