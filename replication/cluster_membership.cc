// ClusterMembership (replication/cluster_membership.h): registration, controller election and
// the cluster view.
#include "replication/cluster_membership.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace strata {

std::string EncodeBrokerInfo(const BrokerInfo& b) {
  nlohmann::json j = {{"id", b.id}, {"host", b.host}, {"port", b.port}};
  j["rack"] = b.rack.has_value() ? nlohmann::json(*b.rack) : nlohmann::json(nullptr);
  return j.dump();
}

absl::StatusOr<BrokerInfo> DecodeBrokerInfo(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_number_integer() ||
      !j.contains("host") || !j["host"].is_string() || !j.contains("port") ||
      !j["port"].is_number_integer()) {
    return absl::DataLossError(absl::StrCat("bad broker registration: ", json));
  }
  BrokerInfo b{.id = j["id"].get<int32_t>(),
               .host = j["host"].get<std::string>(),
               .port = j["port"].get<int32_t>()};
  if (j.contains("rack") && j["rack"].is_string()) b.rack = j["rack"].get<std::string>();
  return b;
}

namespace {

std::string EncodeController(int32_t id) { return nlohmann::json{{"broker_id", id}}.dump(); }

absl::StatusOr<int32_t> DecodeController(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("broker_id") ||
      !j["broker_id"].is_number_integer()) {
    return absl::DataLossError(absl::StrCat("bad controller record: ", json));
  }
  return j["broker_id"].get<int32_t>();
}

bool SameView(const ClusterView& a, const ClusterView& b) {
  return a.brokers == b.brokers && a.registered_at == b.registered_at &&
         a.controller_id == b.controller_id && a.controller_epoch == b.controller_epoch;
}

}  // namespace

const BrokerInfo* ClusterView::Find(int32_t id) const {
  for (const BrokerInfo& b : brokers) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

std::vector<int32_t> ClusterView::BrokerIds() const {
  std::vector<int32_t> ids;
  for (const BrokerInfo& b : brokers) ids.push_back(b.id);
  return ids;
}

absl::StatusOr<ClusterView> ReadClusterView(MetadataStore* store, const std::string& root) {
  ClusterView view;
  ASSIGN_OR_RETURN(RangeResult brokers, store->GetPrefix(root + "brokers/"));
  for (const KeyValue& kv : brokers.kvs) {
    auto b = DecodeBrokerInfo(kv.value);
    if (!b.ok()) {
      LOG_EVENT(Warn, "cluster.bad_registration")
          .Kv("key", kv.key)
          .Kv("error", b.status().ToString());
      continue;
    }
    view.registered_at[b->id] = kv.create_revision;
    view.brokers.push_back(std::move(*b));
  }
  std::sort(view.brokers.begin(), view.brokers.end(),
            [](const BrokerInfo& a, const BrokerInfo& b) { return a.id < b.id; });
  ASSIGN_OR_RETURN(std::optional<KeyValue> controller, store->Get(root + "controller"));
  view.revision = brokers.revision;
  if (controller.has_value()) {
    ASSIGN_OR_RETURN(view.controller_id, DecodeController(controller->value));
    view.controller_epoch = controller->create_revision;
    view.revision = std::max(view.revision, controller->mod_revision);
  }
  return view;
}

ClusterMembership::ClusterMembership(MetadataStore* store, Options options, Listener listener)
    : store_(store), options_(std::move(options)), guard_(std::make_shared<CallbackGuard>()) {
  guard_->self = this;
  if (listener) AddListener(std::move(listener));
}

int ClusterMembership::AddListener(Listener listener) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void ClusterMembership::RemoveListener(int id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

std::string ClusterMembership::BrokerKey(int32_t id) const {
  return absl::StrCat(options_.root, "brokers/", id);
}
std::string ClusterMembership::ControllerKey() const { return options_.root + "controller"; }

absl::StatusOr<std::unique_ptr<ClusterMembership>> ClusterMembership::Start(MetadataStore* store,
                                                                            Options options,
                                                                            Listener listener) {
  std::unique_ptr<ClusterMembership> m(
      new ClusterMembership(store, std::move(options), std::move(listener)));
  // The wait is for a session on the store's clock to expire: real time.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(m->options_.registration_wait_ms);
  while (true) {
    absl::Status s = m->Register();
    if (s.ok()) break;
    if (!absl::IsAlreadyExists(s) || std::chrono::steady_clock::now() >= deadline) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // the old session may expire
  }
  // Watches first, so no change between the first read and the watch is missed.
  auto wake = [raw = m.get()](const WatchResponse&) { raw->Wake(); };
  ASSIGN_OR_RETURN(m->watch_, store->Watch(m->options_.root, 0, wake));
  RETURN_IF_ERROR(m->Campaign());
  RETURN_IF_ERROR(m->Refresh());
  m->thread_ = std::thread([raw = m.get()] { raw->Run(); });
  return m;
}

ClusterMembership::~ClusterMembership() { Stop(); }

absl::Status ClusterMembership::Register() {
  ASSIGN_OR_RETURN(LeaseId lease, store_->Grant(options_.session_timeout_ms));
  const std::string key = BrokerKey(options_.self.id);
  auto r = store_->CompareAndSet(key, 0, EncodeBrokerInfo(options_.self), lease);
  if (!r.ok() || !r->applied) {
    (void)store_->Revoke(lease);
    if (!r.ok()) return r.status();
    std::string holder = r->current.has_value() ? r->current->value : "?";
    return absl::AlreadyExistsError(absl::StrCat("broker id ", options_.self.id,
                                                 " is registered by another live broker (", holder,
                                                 "); each broker needs its own --broker-id"));
  }
  {
    // Before the keep-alive starts, so a loss it reports at once is not dropped.
    absl::MutexLock lock(&mu_);
    lease_ = lease;
    session_lost_ = false;
  }
  // The keep-alive's thread may report a loss while Stop runs: the guard lets Stop wait for a
  // running callback and turns later ones into no-ops.
  store_->KeepAliveInBackground(lease, [guard = guard_, lease](absl::Status why) {
    absl::MutexLock guard_lock(&guard->mu);
    if (guard->self != nullptr) guard->self->OnSessionLost(lease, why);
  });
  LOG_EVENT(Info, "cluster.registered")
      .Kv("broker", options_.self.id)
      .Kv("key", key)
      .Kv("lease", lease)
      .Kv("revision", r->revision);
  return absl::OkStatus();
}

void ClusterMembership::OnSessionLost(LeaseId lease, const absl::Status& why) {
  LOG_EVENT(Warn, "cluster.session_lost").Kv("lease", lease).Kv("why", why.ToString());
  {
    absl::MutexLock lock(&mu_);
    if (lease_ == lease) session_lost_ = true;
  }
  Wake();
}

absl::Status ClusterMembership::Campaign() {
  LeaseId lease;
  {
    absl::MutexLock lock(&mu_);
    lease = lease_;
  }
  if (lease == kNoLease) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::optional<KeyValue> current, store_->Get(ControllerKey()));
  if (current.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(CasResult r, store_->CompareAndSet(ControllerKey(), 0,
                                                      EncodeController(options_.self.id), lease));
  if (r.applied) {
    LOG_EVENT(Info, "cluster.controller_elected")
        .Kv("broker", options_.self.id)
        .Kv("epoch", r.revision);
  }
  return absl::OkStatus();
}

absl::Status ClusterMembership::Refresh() {
  ASSIGN_OR_RETURN(ClusterView view, ReadClusterView(store_, options_.root));
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    changed = !SameView(view, view_);
    view_ = view;
  }
  if (!changed) return absl::OkStatus();
  std::string ids;
  for (const BrokerInfo& b : view.brokers) absl::StrAppend(&ids, ids.empty() ? "" : ",", b.id);
  LOG_EVENT(Info, "cluster.view")
      .Kv("brokers", ids)
      .Kv("controller", view.controller_id)
      .Kv("controller_epoch", view.controller_epoch)
      .Kv("revision", view.revision);
  absl::MutexLock lock(&listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener(view);
  return absl::OkStatus();
}

absl::Status ClusterMembership::Tick() {
  bool lost;
  {
    absl::MutexLock lock(&mu_);
    lost = session_lost_ || lease_ == kNoLease;
  }
  if (lost) {
    LeaseId old;
    {
      absl::MutexLock lock(&mu_);
      old = lease_;
      lease_ = kNoLease;  // a new session replaces it
    }
    // The client gave up on it, but etcd may still hold it (and with it our registration and
    // perhaps the controller key): end it, or re-registering would collide with ourselves.
    if (old != kNoLease) (void)store_->Revoke(old);
    RETURN_IF_ERROR(Register());
  }
  RETURN_IF_ERROR(Campaign());
  return Refresh();
}

void ClusterMembership::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void ClusterMembership::Run() {
  std::string last_error;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready),
                           absl::Milliseconds(options_.refresh_interval_ms));
      if (stopping_) return;
      wake_ = false;
    }
    absl::Status s = Tick();
    std::string error = s.ok() ? "" : s.ToString();
    if (error != last_error && !s.ok()) {
      LOG_EVENT(Warn, "cluster.tick_failed").Kv("error", error);
    } else if (error != last_error) {
      LOG_EVENT(Info, "cluster.recovered");
    }
    last_error = error;
  }
}

ClusterView ClusterMembership::View() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

int64_t ClusterMembership::SessionValidUntilMs() const {
  LeaseId lease;
  {
    absl::MutexLock lock(&mu_);
    if (session_lost_ || stopping_) return 0;
    lease = lease_;
  }
  return lease == kNoLease ? 0 : store_->LeaseValidUntilMs(lease);
}

bool ClusterMembership::HasSession() const {
  return Clock::System()->MonotonicMs() < SessionValidUntilMs();
}

bool ClusterMembership::IsController() const {
  {
    absl::MutexLock lock(&mu_);
    if (view_.controller_id != options_.self.id) return false;
  }
  return HasSession();
}

void ClusterMembership::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable() && lease_ == kNoLease) return;
    stopping_ = true;
  }
  watch_.reset();
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock guard_lock(&guard_->mu);  // waits for a running loss callback
    guard_->self = nullptr;
  }
  LeaseId lease;
  {
    absl::MutexLock lock(&mu_);
    lease = lease_;
    lease_ = kNoLease;
  }
  if (lease == kNoLease) return;
  absl::Status s = store_->Revoke(lease);
  LOG_EVENT(Info, "cluster.deregistered")
      .Kv("broker", options_.self.id)
      .Kv("revoke", s.ok() ? "ok" : s.ToString());
}

}  // namespace strata
