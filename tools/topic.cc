// strata topic: create, list, describe, delete and reconfigure topics (like kafka-topics and
// kafka-configs), through the client library's Admin.
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/admin.h"
#include "tools/client_flags.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata topic <command> --bootstrap HOST:PORT [flags]\n"
    "  create          --topic T [--partitions N] [--replication-factor R]\n"
    "                  [--config name=value ...] [--validate-only]\n"
    "  list            [--internal]\n"
    "  describe        --topic T      partitions, leaders, earliest/latest offsets and the\n"
    "                                 configs that differ from the defaults\n"
    "  delete          --topic T\n"
    "  alter-config    --topic T [--set name=value ...] [--delete name ...] [--validate-only]\n"
    "  add-partitions  --topic T --partitions N   (raises the count to N)\n";

using client::Admin;

int Create(Admin& admin, const cli::Args& args) {
  absl::Status err;
  client::NewTopic topic{.name = args.Get("topic")};
  topic.partitions = static_cast<int32_t>(args.GetInt("partitions", -1, &err));
  topic.replication_factor = static_cast<int16_t>(args.GetInt("replication-factor", -1, &err));
  for (const std::string& kv : args.GetAll("config")) {
    auto pair = SplitKeyValue(kv, "--config");
    if (!pair.ok()) {
      err = pair.status();
    } else {
      topic.configs[pair->first] = pair->second;
    }
  }
  if (!err.ok()) return Usage(err, kUsage);
  bool validate_only = args.Has("validate-only");
  if (absl::Status s = admin.CreateTopic(topic, validate_only); !s.ok()) {
    return Fail("strata topic create", s);
  }
  std::cout << (validate_only ? "Valid: topic " : "Created topic ") << topic.name << "\n";
  return 0;
}

int List(Admin& admin, const cli::Args& args) {
  auto topics = admin.ListTopics(args.Has("internal"));
  if (!topics.ok()) return Fail("strata topic list", topics.status());
  for (const std::string& t : *topics) std::cout << t << "\n";
  return 0;
}

std::string Ids(const std::vector<int32_t>& ids) { return absl::StrJoin(ids, ","); }

// Kafka prints topic ids as URL-safe base64 without padding.
std::string TopicId(const protocol::Uuid& id) {
  return absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
}

int Describe(Admin& admin, const cli::Args& args) {
  const std::string name = args.Get("topic");
  auto topic = admin.DescribeTopic(name);
  if (!topic.ok()) return Fail("strata topic describe", topic.status());
  auto configs = admin.DescribeTopicConfigs(name);
  if (!configs.ok()) return Fail("strata topic describe", configs.status());
  std::vector<std::string> overrides;
  for (const client::ConfigEntry& c : *configs) {
    if (!c.is_default) overrides.push_back(absl::StrCat(c.name, "=", c.value.value_or("")));
  }
  size_t replicas = topic->partitions.empty() ? 0 : topic->partitions[0].replicas.size();
  std::cout << "Topic: " << name << "\tTopicId: " << TopicId(topic->id)
            << "\tPartitionCount: " << topic->partitions.size()
            << "\tReplicationFactor: " << replicas << "\n"
            << "Configs: " << (overrides.empty() ? "(defaults)" : absl::StrJoin(overrides, ","))
            << "\n";
  std::map<client::TopicPartition, int64_t> earliest, latest;
  for (const client::PartitionMetadata& p : topic->partitions) {
    earliest[{name, p.partition}] = client::kEarliestOffsetSpec;
    latest[{name, p.partition}] = client::kLatestOffsetSpec;
  }
  auto first = admin.ListOffsets(earliest);
  auto last = admin.ListOffsets(latest);
  auto offset = [](const absl::StatusOr<client::OffsetResults>& results,
                   const client::TopicPartition& tp) -> std::string {
    if (!results.ok() || !results->count(tp) || !results->at(tp).ok()) return "?";
    return absl::StrCat(results->at(tp)->offset);
  };
  for (const client::PartitionMetadata& p : topic->partitions) {
    client::TopicPartition tp{name, p.partition};
    std::cout << "\tPartition: " << p.partition << "\tLeader: " << p.leader
              << "\tReplicas: " << Ids(p.replicas) << "\tIsr: " << Ids(p.isr)
              << "\tEarliestOffset: " << offset(first, tp) << "\tLatestOffset: " << offset(last, tp)
              << "\n";
  }
  return 0;
}

int Delete(Admin& admin, const cli::Args& args) {
  if (absl::Status s = admin.DeleteTopic(args.Get("topic")); !s.ok()) {
    return Fail("strata topic delete", s);
  }
  std::cout << "Deleted topic " << args.Get("topic") << "\n";
  return 0;
}

int AlterConfig(Admin& admin, const cli::Args& args) {
  std::vector<client::AlterConfigOp> ops;
  for (const std::string& kv : args.GetAll("set")) {
    auto pair = SplitKeyValue(kv, "--set");
    if (!pair.ok()) return Usage(pair.status(), kUsage);
    ops.push_back({pair->first, client::ConfigOp::kSet, pair->second});
  }
  for (const std::string& name : args.GetAll("delete")) {
    ops.push_back({name, client::ConfigOp::kDelete, std::nullopt});
  }
  if (ops.empty())
    return Usage(absl::InvalidArgumentError("nothing to change: give --set or --delete"), kUsage);
  absl::Status s = admin.AlterTopicConfigs(args.Get("topic"), ops, args.Has("validate-only"));
  if (!s.ok()) return Fail("strata topic alter-config", s);
  std::cout << "Updated " << ops.size() << " config(s) of topic " << args.Get("topic") << "\n";
  return 0;
}

int AddPartitions(Admin& admin, const cli::Args& args) {
  absl::Status err;
  int64_t total = args.GetInt("partitions", -1, &err);
  if (!err.ok() || total < 1) {
    return Usage(err.ok() ? absl::InvalidArgumentError("--partitions N is required") : err, kUsage);
  }
  absl::Status s = admin.CreatePartitions(args.Get("topic"), static_cast<int32_t>(total),
                                          args.Has("validate-only"));
  if (!s.ok()) return Fail("strata topic add-partitions", s);
  std::cout << "Topic " << args.Get("topic") << " now has " << total << " partitions\n";
  return 0;
}

}  // namespace

int Topic(const Argv& argv) {
  using Handler = int (*)(Admin&, const cli::Args&);
  const std::map<std::string, Handler> commands = {{"create", Create},
                                                   {"list", List},
                                                   {"describe", Describe},
                                                   {"delete", Delete},
                                                   {"alter-config", AlterConfig},
                                                   {"add-partitions", AddPartitions}};
  cli::Args args;
  if (auto exit = ParseOrUsage(argv, {"validate-only", "internal"},
                               {"bootstrap", "topic", "partitions", "replication-factor"},
                               {"config", "set", "delete"}, kUsage, &args)) {
    return *exit;
  }
  if (args.positional().size() != 1 || !commands.count(args.positional()[0])) {
    return Usage(absl::InvalidArgumentError("expected one command"), kUsage);
  }
  const std::string& command = args.positional()[0];
  if (command != "list" && args.Get("topic").empty()) {
    return Usage(absl::InvalidArgumentError("--topic is required"), kUsage);
  }
  auto bootstrap = BootstrapFlag(args);
  if (!bootstrap.ok()) return Usage(bootstrap.status(), kUsage);
  auto admin = Admin::Create({.bootstrap = *bootstrap, .client_id = "strata-topic"});
  if (!admin.ok()) return Fail("strata topic", admin.status());
  return commands.at(command)(**admin, args);
}

}  // namespace strata::tools
