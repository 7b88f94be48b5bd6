// strata cluster status: the cluster as its metadata store records it (registered brokers, the
// controller and its epoch, the cluster id), read directly from the store like Kafka's
// zookeeper-shell views, so it works with every broker down.
#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "replication/cluster_membership.h"
#include "replication/controller.h"
#include "replication/metadata_store.h"
#include "replication/partition_state.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata cluster status --metadata etcd://HOST:PORT [--root /strata/] [--json]\n"
    "                             [--partitions]\n"
    "  Lists the live brokers (id, advertised address, rack), the controller and its epoch, and\n"
    "  counts the partitions that are under-replicated (ISR smaller than the replicas) or\n"
    "  offline (no live leader); --partitions lists every partition's leader, epoch and ISR.\n"
    "  Exit status 1 if the store cannot be read, 3 if the cluster has no controller.\n";

std::string Json(const ClusterView& view, const std::string& cluster_id, const PartitionHealth& h) {
  std::vector<std::string> brokers;
  for (const BrokerInfo& b : view.brokers) brokers.push_back(EncodeBrokerInfo(b));
  return absl::StrCat("{\"cluster_id\":\"", cluster_id, "\",\"controller\":", view.controller_id,
                      ",\"controller_epoch\":", view.controller_epoch,
                      ",\"revision\":", view.revision, ",\"partitions\":", h.partitions,
                      ",\"under_replicated\":", h.under_replicated, ",\"offline\":", h.offline,
                      ",\"brokers\":[", absl::StrJoin(brokers, ","), "]}");
}

void PrintPartitions(const std::vector<PartitionRecord>& records,
                     const std::vector<int32_t>& alive) {
  std::cout << "TOPIC PARTITION LEADER EPOCH REPLICAS ISR STATUS\n";
  for (const PartitionRecord& r : records) {
    bool offline = r.state.leader == kNoLeader ||
                   std::find(alive.begin(), alive.end(), r.state.leader) == alive.end();
    std::cout << r.topic << " " << r.partition << " " << r.state.leader << " "
              << r.state.leader_epoch << " " << absl::StrJoin(r.replicas, ",") << " "
              << (r.state.isr.empty() ? "-" : absl::StrJoin(r.state.isr, ",")) << " "
              << (offline                                  ? "offline"
                  : r.state.isr.size() < r.replicas.size() ? "under-replicated"
                                                           : "ok")
              << "\n";
  }
}

void Text(const ClusterView& view, const std::string& cluster_id, const PartitionHealth& h) {
  std::cout << "cluster id: " << (cluster_id.empty() ? "(none yet)" : cluster_id) << "\n";
  if (view.controller_id >= 0) {
    std::cout << "controller: broker " << view.controller_id << " (epoch " << view.controller_epoch
              << ")\n";
  } else {
    std::cout << "controller: none\n";
  }
  std::cout << "brokers: " << view.brokers.size() << "\n";
  for (const BrokerInfo& b : view.brokers) {
    std::cout << "  " << b.id << "  " << b.host << ":" << b.port;
    if (b.rack.has_value()) std::cout << "  rack=" << *b.rack;
    if (b.id == view.controller_id) std::cout << "  (controller)";
    std::cout << "\n";
  }
  std::cout << "partitions: " << h.partitions << " (under-replicated: " << h.under_replicated
            << ", offline: " << h.offline << ")\n";
}

}  // namespace

int Cluster(const Argv& argv) {
  cli::Args args;
  absl::Status parsed = args.Parse(argv, {"help", "json", "partitions"}, {"metadata", "root"});
  if (!parsed.ok() || args.Has("help") || args.positional().size() != 1 ||
      args.positional()[0] != "status" || !args.Has("metadata")) {
    std::cerr << (parsed.ok() ? "" : std::string(parsed.message()) + "\n") << kUsage;
    return 2;
  }
  std::string root = args.Get("root", "/strata/");
  auto store = OpenMetadataStore(args.Get("metadata"), MetadataStoreOptions{});
  if (!store.ok()) {
    std::cerr << "strata cluster: " << store.status().message() << "\n";
    return 2;
  }
  auto view = ReadClusterView(store->get(), root);
  auto id = view.ok() ? (*store)->Get(root + "cluster_id") : view.status();
  if (!view.ok() || !id.ok()) {
    std::cerr << "strata cluster: " << (view.ok() ? id.status() : view.status()).message() << "\n";
    return 1;
  }
  auto records = ReadPartitionStates(store->get(), root);
  if (!records.ok()) {
    std::cerr << "strata cluster: " << records.status().message() << "\n";
    return 1;
  }
  std::string cluster_id = id->has_value() ? (*id)->value : "";
  PartitionHealth health = HealthOf(*records, view->BrokerIds());
  if (args.Has("json")) {
    std::string json = Json(*view, cluster_id, health);
    if (args.Has("partitions")) {
      std::vector<std::string> parts;
      for (const PartitionRecord& r : *records) {
        parts.push_back(absl::StrCat("{\"topic\":\"", r.topic, "\",\"partition\":", r.partition,
                                     ",\"replicas\":[", absl::StrJoin(r.replicas, ","),
                                     "],\"state\":", EncodePartitionState(r.state), "}"));
      }
      json.insert(json.size() - 1,
                  absl::StrCat(",\"partition_states\":[", absl::StrJoin(parts, ","), "]"));
    }
    std::cout << json << "\n";
  } else {
    Text(*view, cluster_id, health);
    if (args.Has("partitions")) PrintPartitions(*records, view->BrokerIds());
  }
  return view->controller_id >= 0 ? 0 : 3;
}

}  // namespace strata::tools
