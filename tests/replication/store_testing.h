// Test helpers shared by the MetadataStore tests: a watch callback that records what it gets and
// lets the test wait for it, and the two environments the conformance suite runs in (an embedded
// store on a ManualClock, a real etcd).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "replication/embedded_store.h"
#include "replication/metadata_store.h"
#include "tests/replication/etcd_process.h"
#include "tests/testing/temp_dir.h"

namespace strata::testing {

// Records watch responses; the test waits for them with a deadline (never forever).
class WatchRecorder {
 public:
  WatchCallback Callback() {
    return [this](const WatchResponse& response) {
      absl::MutexLock lock(&mu_);
      responses_.push_back(response);
      for (const WatchEvent& e : response.events) events_.push_back(e);
    };
  }

  // The events so far once there are at least `n` (or after `timeout_ms`, whatever came).
  std::vector<WatchEvent> WaitForEvents(size_t n, int timeout_ms = 5000) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Milliseconds(timeout_ms));
    return events_;
  }

  std::vector<WatchResponse> WaitForResponses(size_t n, int timeout_ms = 5000) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return responses_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Milliseconds(timeout_ms));
    return responses_;
  }

  std::vector<WatchEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  absl::Mutex mu_;
  std::vector<WatchResponse> responses_ ABSL_GUARDED_BY(mu_);
  std::vector<WatchEvent> events_ ABSL_GUARDED_BY(mu_);
};

// Polls until `key` is gone (lease expiry on etcd happens on etcd's own clock).
inline bool WaitUntilGone(MetadataStore* store, const std::string& key, int timeout_ms) {
  for (int waited = 0;; waited += 20) {
    auto kv = store->Get(key);
    if (kv.ok() && !kv->has_value()) return true;
    if (waited >= timeout_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Polls `done` every 20 ms for up to `timeout_ms` (cluster changes happen on store threads).
inline bool Eventually(const std::function<bool()>& done, int timeout_ms = 10'000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The embedded store in a temp dir; time is a ManualClock.
class EmbeddedEnv {
 public:
  static constexpr bool kIsEtcd = false;
  absl::StatusOr<std::unique_ptr<MetadataStore>> Open() {
    return OpenMetadataStore("embedded", {.data_dir = dir_.path(), .clock = &clock_});
  }
  // Lets `ms` pass for leases.
  void PassTime(MetadataStore* store, int64_t ms) {
    clock_.AdvanceMs(ms);
    static_cast<EmbeddedMetadataStore*>(store)->ExpireLeasesNow();
  }
  // A TTL both stores honour exactly.
  static constexpr int64_t kLeaseTtlMs = 2000;

 private:
  TempDir dir_;
  ManualClock clock_;
};

// One real etcd for the whole test program (started on first use, killed at exit); each test
// uses its own key prefix.
class SharedEtcd : public ::testing::Environment {
 public:
  static EtcdProcess& Get();
  void TearDown() override { etcd_.reset(); }

 private:
  std::unique_ptr<EtcdProcess> etcd_;
};

inline SharedEtcd* const kSharedEtcd =
    static_cast<SharedEtcd*>(::testing::AddGlobalTestEnvironment(new SharedEtcd));

inline EtcdProcess& SharedEtcd::Get() {
  if (kSharedEtcd->etcd_ == nullptr) kSharedEtcd->etcd_ = std::make_unique<EtcdProcess>();
  return *kSharedEtcd->etcd_;
}

class EtcdEnv {
 public:
  static constexpr bool kIsEtcd = true;
  absl::StatusOr<std::unique_ptr<MetadataStore>> Open() {
    EtcdProcess& etcd = SharedEtcd::Get();
    if (!etcd.ok()) return absl::UnavailableError("etcd did not start: " + etcd.log());
    return OpenMetadataStore(etcd.uri(), {.request_timeout_ms = 3000});
  }
  void PassTime(MetadataStore*, int64_t ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  // etcd's minimum TTL (whole seconds; 3.4 raises smaller ones to about this).
  static constexpr int64_t kLeaseTtlMs = 2000;
};

}  // namespace strata::testing
