// Cluster's connection pool: one Connection per broker, opened lazily, replaced when closed.
#include "absl/strings/str_cat.h"
#include "client/cluster.h"
#include "client/errors.h"
#include "protocol/errors.h"

namespace strata::client {

absl::StatusOr<std::shared_ptr<Connection>> Cluster::OpenConnection(int32_t key,
                                                                    const HostPort& address) {
  // Connecting happens without the lock; if another thread won the race, its connection is kept.
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> opened,
                   Connection::Connect(address, options_.connection));
  std::shared_ptr<Connection> conn(std::move(opened));
  // A replaced connection is destroyed after the lock is released: its destructor joins its
  // reader thread, whose callbacks may take the lock (Invalidate).
  std::shared_ptr<Connection> replaced;
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Connection>& slot = connections_[key];
  if (slot != nullptr && !slot->closed()) return slot;
  replaced = std::move(slot);
  slot = conn;
  return conn;
}

absl::StatusOr<std::shared_ptr<Connection>> Cluster::ConnectionTo(int32_t broker_id) {
  HostPort address;
  {
    absl::MutexLock lock(&mu_);
    auto it = connections_.find(broker_id);
    if (it != connections_.end() && !it->second->closed()) return it->second;
    auto b = brokers_.find(broker_id);
    if (b == brokers_.end()) {
      return KafkaError(protocol::ErrorCode::kBrokerNotAvailable,
                        absl::StrCat("broker ", broker_id), "not in the cluster metadata");
    }
    address = b->second.address;
  }
  return OpenConnection(broker_id, address);
}

absl::StatusOr<std::shared_ptr<Connection>> Cluster::LeaderConnection(const std::string& topic,
                                                                      int32_t partition) {
  ASSIGN_OR_RETURN(int32_t leader, Leader(topic, partition));
  return ConnectionTo(leader);
}

absl::StatusOr<std::shared_ptr<Connection>> Cluster::AnyConnection() {
  std::vector<int32_t> broker_ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, conn] : connections_) {
      if (key >= 0 && !conn->closed()) return conn;
    }
    for (const auto& [key, conn] : connections_) {
      if (!conn->closed()) return conn;
    }
    for (const auto& [id, b] : brokers_) broker_ids.push_back(id);
  }
  absl::Status last = absl::UnavailableError("no brokers known");
  for (int32_t id : broker_ids) {
    auto conn = ConnectionTo(id);
    if (conn.ok()) return conn;
    last = conn.status();
  }
  for (size_t i = 0; i < options_.bootstrap.size(); ++i) {
    auto conn = OpenConnection(-1 - static_cast<int32_t>(i), options_.bootstrap[i]);
    if (conn.ok()) return conn;
    last = conn.status();
  }
  return absl::UnavailableError(absl::StrCat("no broker reachable: ", last.message()));
}

absl::StatusOr<std::shared_ptr<Connection>> Cluster::ControllerConnection() {
  int32_t controller = controller_id();
  if (controller >= 0) {
    auto conn = ConnectionTo(controller);
    if (conn.ok()) return conn;
  }
  return AnyConnection();
}

std::vector<BrokerMetadata> Cluster::Brokers() const {
  absl::MutexLock lock(&mu_);
  std::vector<BrokerMetadata> out;
  for (const auto& [id, b] : brokers_) out.push_back(b);
  return out;
}

std::optional<std::string> Cluster::cluster_id() const {
  absl::MutexLock lock(&mu_);
  return cluster_id_;
}

int32_t Cluster::controller_id() const {
  absl::MutexLock lock(&mu_);
  return controller_id_;
}

}  // namespace strata::client
