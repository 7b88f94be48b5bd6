// ClusterMembership: one broker's place in the cluster, kept in a MetadataStore. It registers the
// broker under a lease (its session), keeps the lease alive, campaigns for the controller role and
// follows who else is alive, re-registering and re-campaigning by itself after a lost session.
//
//   ClusterMembership::Options o{.self = {.id = 1, .host = "127.0.0.1", .port = 9093}};
//   ASSIGN_OR_RETURN(auto membership, ClusterMembership::Start(store.get(), o));
//   ClusterView view = membership->View();   // live brokers, controller id and epoch
//   membership->Stop();                      // revokes the session: deregisters, resigns
//
// Keys under options.root (default "/strata/"; see docs/formats/cluster-metadata.md):
//   brokers/<id>   {"id":1,"host":"127.0.0.1","port":9093,"rack":"r1"}   attached to the lease
//   controller     {"broker_id":1}                                     attached to the lease
// The controller epoch is the controller key's create_revision: store revisions only grow, so
// every new controller has a higher epoch than all before it, with no counter to keep.
//
// Election: whoever creates the controller key (compare-and-set on "does not exist") is the
// controller until its session ends; the others watch and campaign again when the key goes.
// A broker id is one process: Start fails with AlreadyExists if another live session holds
// brokers/<id> after waiting out `registration_wait_ms` (a kill -9'd predecessor's session expires
// within the lease TTL, so a quick restart waits for it instead of failing).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "replication/metadata_store.h"

namespace strata {

struct BrokerInfo {
  int32_t id = 0;
  std::string host;
  int32_t port = 0;
  std::optional<std::string> rack;

  bool operator==(const BrokerInfo&) const = default;
};
std::string EncodeBrokerInfo(const BrokerInfo& b);
absl::StatusOr<BrokerInfo> DecodeBrokerInfo(absl::string_view json);

// What a broker knows of the cluster, as of one store revision.
struct ClusterView {
  std::vector<BrokerInfo> brokers;  // live registrations, by id
  // create_revision of each broker's registration: a broker that restarted (a new session)
  // has a new one, even if its id and address are the same.
  std::map<int32_t, int64_t> registered_at;
  int32_t controller_id = -1;    // -1: no controller right now
  int64_t controller_epoch = 0;  // create_revision of the controller key; 0 with no controller
  int64_t revision = 0;          // store revision the view was read at

  const BrokerInfo* Find(int32_t id) const;
  std::vector<int32_t> BrokerIds() const;
};

// Reads the cluster's registrations and controller once (tools: `strata cluster status`).
absl::StatusOr<ClusterView> ReadClusterView(MetadataStore* store, const std::string& root);

class ClusterMembership {
 public:
  struct Options {
    BrokerInfo self;
    std::string root = "/strata/";
    int64_t session_timeout_ms = 9'000;  // broker.session.timeout.ms: the lease TTL
    // How long Start waits for an earlier session holding this broker id to expire.
    int64_t registration_wait_ms = 15'000;
    // How often the view is re-read even without a watch event (a safety net; events are the
    // normal path).
    int64_t refresh_interval_ms = 2'000;
  };
  // Called on the membership's thread after every change of the view.
  using Listener = std::function<void(const ClusterView&)>;

  // Registers and campaigns once before returning; later work runs on a background thread.
  static absl::StatusOr<std::unique_ptr<ClusterMembership>> Start(MetadataStore* store,
                                                                  Options options,
                                                                  Listener listener = nullptr);
  ~ClusterMembership();  // Stop()

  ClusterView View() const;
  // Until when (Clock::System()->MonotonicMs()) this broker's session is certainly alive in the
  // store (MetadataStore::LeaseValidUntilMs): 0 while it has none (lost, not registered yet,
  // stopped). A broker acts as leader or controller only before this time: once it passes, the
  // store may have expired the session and the cluster may have moved on without it.
  int64_t SessionValidUntilMs() const;
  bool HasSession() const;
  // The controller in the view is this broker, and its session is alive.
  bool IsController() const;
  // Adds a listener called (on the membership's thread) after every change of the view, like
  // the one given to Start. RemoveListener returns once it is not running and will not run.
  int AddListener(Listener listener);
  void RemoveListener(int id);
  int32_t id() const { return options_.self.id; }

  // Ends the session: the registration and (if held) the controller key go at once, so another
  // broker takes over without waiting for the TTL. Idempotent.
  void Stop();

 private:
  ClusterMembership(MetadataStore* store, Options options, Listener listener);
  std::string BrokerKey(int32_t id) const;
  std::string ControllerKey() const;

  // One round of the loop: (re-)register if the session was lost, campaign if there is no
  // controller, re-read the view. Returns the first error (the loop retries).
  absl::Status Tick();
  absl::Status Register();
  absl::Status Campaign();
  absl::Status Refresh();
  void Run();
  void Wake();
  void OnSessionLost(LeaseId lease, const absl::Status& why);

  struct CallbackGuard {
    absl::Mutex mu;
    ClusterMembership* self ABSL_GUARDED_BY(mu) = nullptr;
  };

  MetadataStore* store_;
  const Options options_;
  absl::Mutex listeners_mu_;  // held while listeners run; never taken inside mu_
  std::map<int, Listener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;

  mutable absl::Mutex mu_;
  ClusterView view_ ABSL_GUARDED_BY(mu_);
  LeaseId lease_ ABSL_GUARDED_BY(mu_) = kNoLease;
  bool session_lost_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<WatchHandle> watch_;
  std::shared_ptr<CallbackGuard> guard_;  // shared with the keep-alive callbacks
  std::thread thread_;
};

}  // namespace strata
