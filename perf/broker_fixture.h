// An in-process broker for the broker benchmarks: one reactor thread, a free loopback port and a
// scratch data directory (removed afterwards).
//
//   BrokerFixture f([](server::BrokerConfig& c) { c.fetch_copy_mode = true; });
//   int port = f.broker->port();
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "perf/bench_util.h"
#include "server/broker.h"

namespace strata::bench {

struct BrokerFixture {
  ScratchDir scratch;
  std::unique_ptr<server::Broker> broker;
  explicit BrokerFixture(const std::function<void(server::BrokerConfig&)>& configure = {}) {
    // As `strata serve` runs in release builds (tools/serve.cc).
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    server::BrokerConfig config;
    config.data_dir = scratch.Sub("data");
    config.listen = {"127.0.0.1", 0};
    config.network_threads = 1;
    if (configure) configure(config);
    auto b = server::Broker::Start(FileSystem::Default(), config, Clock::System());
    if (!b.ok()) abort();
    broker = std::move(*b);
  }
};

}  // namespace strata::bench
