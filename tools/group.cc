// strata group: list, describe, reset the offsets of and delete consumer groups (like
// kafka-consumer-groups), through the client library's Admin.
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/admin.h"
#include "client/errors.h"
#include "tools/client_flags.h"
#include "tools/commands.h"
#include "tools/group_reset.h"
#include "tools/table.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata group <command> [GROUP] --bootstrap HOST:PORT [flags]\n"
    "  list                 every group of every broker: id, state, protocol type\n"
    "  describe GROUP       state, protocol and members (member id, group instance id, client\n"
    "                       id, host, assigned partitions), then one row per partition: committed\n"
    "                       offset, log end offset, lag and the member that owns it\n"
    "  reset-offsets GROUP  move the group's committed offsets (--topic T[:P,...] | --all-topics,\n"
    "                       --to-earliest | --to-latest | --to-offset N | --shift-by N |\n"
    "                       --to-datetime T, [--dry-run]); see 'strata group reset-offsets "
    "--help'\n"
    "  delete GROUP         delete a group that has no active members, with its offsets\n"
    "Each command takes --help. Exit codes: 0 ok, 1 failure, 2 usage error.\n";

constexpr char kListUsage[] =
    "usage: strata group list --bootstrap HOST:PORT\n"
    "Lists every consumer group of every broker: GROUP, STATE, PROTOCOL-TYPE (empty for groups\n"
    "that only hold offsets committed from outside a group).\n";

constexpr char kDescribeUsage[] =
    "usage: strata group describe GROUP --bootstrap HOST:PORT\n"
    "Prints the group's state, protocol and coordinator; its members (MEMBER-ID,\n"
    "GROUP-INSTANCE-ID, CLIENT-ID, HOST, ASSIGNMENT as topic:partition,...); then one row per\n"
    "partition the group has an offset for or a member is assigned: TOPIC, PARTITION,\n"
    "CURRENT-OFFSET (committed; - if none), LOG-END-OFFSET, LAG, and the owning MEMBER-ID,\n"
    "CLIENT-ID and HOST (- if none). Exit 1 if the group does not exist.\n";

constexpr char kDeleteUsage[] =
    "usage: strata group delete GROUP --bootstrap HOST:PORT\n"
    "Deletes the group and its committed offsets. Refused (exit 1) while the group has active\n"
    "members, or if it does not exist.\n";

using client::Admin;
using client::GroupDescription;
using client::GroupMemberDescription;
using client::TopicPartition;
using protocol::ErrorCode;

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// "orders:0,1;payments:3"
std::string Assignment(const std::vector<TopicPartition>& partitions) {
  std::vector<std::string> topics;
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (i == 0 || partitions[i].topic != partitions[i - 1].topic) {
      topics.push_back(absl::StrCat(partitions[i].topic, ":", partitions[i].partition));
    } else {
      absl::StrAppend(&topics.back(), ",", partitions[i].partition);
    }
  }
  return topics.empty() ? "-" : absl::StrJoin(topics, ";");
}

int List(Admin& admin, const std::string&) {
  auto groups = admin.ListGroups();
  if (!groups.ok()) return Fail("strata group list", groups.status());
  Table table({"GROUP", "STATE", "PROTOCOL-TYPE"});
  for (const client::GroupListing& g : *groups) {
    table.Add({g.group_id, OrDash(g.state), OrDash(g.protocol_type)});
  }
  table.Print(std::cout);
  return 0;
}

void PrintMembers(const GroupDescription& g) {
  if (g.members.empty()) {
    std::cout << "No active members.\n";
    return;
  }
  Table table({"MEMBER-ID", "GROUP-INSTANCE-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"});
  for (const GroupMemberDescription& m : g.members) {
    table.Add({m.member_id, OrDash(m.group_instance_id.value_or("")), OrDash(m.client_id),
               OrDash(m.client_host), Assignment(m.assigned_partitions)});
  }
  table.Print(std::cout);
}

// One row per partition with a committed offset or an owner, with the log end offset and lag.
void PrintPartitions(Admin& admin, const GroupDescription& g, const client::GroupOffsets& offsets) {
  std::map<TopicPartition, const GroupMemberDescription*> owners;
  for (const GroupMemberDescription& m : g.members) {
    for (const TopicPartition& tp : m.assigned_partitions) owners[tp] = &m;
  }
  std::map<TopicPartition, int64_t> specs;
  for (const auto& [tp, unused] : offsets) specs[tp] = client::kLatestOffsetSpec;
  for (const auto& [tp, unused] : owners) specs[tp] = client::kLatestOffsetSpec;
  if (specs.empty()) {
    std::cout << "No committed offsets.\n";
    return;
  }
  absl::StatusOr<client::OffsetResults> ends = admin.ListOffsets(specs);
  Table table({"TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER-ID",
               "CLIENT-ID", "HOST"});
  for (const auto& [tp, unused] : specs) {
    auto c = offsets.find(tp);
    int64_t committed = c == offsets.end() ? -1 : c->second.offset;
    int64_t end = -1;
    if (ends.ok() && ends->count(tp) && ends->at(tp).ok()) end = ends->at(tp)->offset;
    auto o = owners.find(tp);
    const GroupMemberDescription* m = o == owners.end() ? nullptr : o->second;
    auto number = [](int64_t v) { return v < 0 ? std::string("-") : absl::StrCat(v); };
    table.Add(
        {tp.topic, absl::StrCat(tp.partition), number(committed), number(end),
         committed >= 0 && end >= 0 ? absl::StrCat(std::max<int64_t>(0, end - committed)) : "-",
         m ? m->member_id : "-", m ? OrDash(m->client_id) : "-", m ? OrDash(m->client_host) : "-"});
  }
  table.Print(std::cout);
  if (!ends.ok()) std::cerr << "strata group describe: log end offsets: " << ends.status() << "\n";
}

int Describe(Admin& admin, const std::string& group) {
  auto g = admin.DescribeGroup(group);
  if (!g.ok()) return Fail("strata group describe", g.status());
  if (g->state == "Dead") {
    return Fail("strata group describe",
                absl::NotFoundError(absl::StrCat("group '", group, "' does not exist")));
  }
  auto offsets = admin.FetchGroupOffsets(group);
  if (!offsets.ok()) return Fail("strata group describe", offsets.status());
  std::string protocol = g->protocol_type.empty() ? "-" : g->protocol_type;
  if (!g->protocol.empty()) absl::StrAppend(&protocol, "/", g->protocol);
  std::cout << "Group: " << group << "  State: " << g->state << "  Protocol: " << protocol
            << "  Members: " << g->members.size() << "  Coordinator: " << g->coordinator.id << " ("
            << g->coordinator.address.ToString() << ")\n\n";
  PrintMembers(*g);
  std::cout << "\n";
  PrintPartitions(admin, *g, *offsets);
  return 0;
}

int Delete(Admin& admin, const std::string& group) {
  absl::Status s = admin.DeleteGroup(group);
  std::optional<ErrorCode> code = client::KafkaErrorOf(s);
  if (code == ErrorCode::kNonEmptyGroup) {
    return Fail(
        "strata group delete",
        absl::FailedPreconditionError(absl::StrCat(
            "group '", group, "' has active members (NON_EMPTY_GROUP); stop its consumers first")));
  }
  if (code == ErrorCode::kGroupIdNotFound) {
    return Fail("strata group delete",
                absl::NotFoundError(
                    absl::StrCat("group '", group, "' does not exist (GROUP_ID_NOT_FOUND)")));
  }
  if (!s.ok()) return Fail("strata group delete", s);
  std::cout << "Deleted group " << group << "\n";
  return 0;
}

struct Command {
  const char* usage;
  std::set<std::string> bools;
  std::set<std::string> values;
  std::set<std::string> repeated;
  int (*run)(Admin&, const std::string& group);  // nullptr: reset-offsets
};

const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"list", {kListUsage, {}, {"bootstrap"}, {}, List}},
      {"describe", {kDescribeUsage, {}, {"bootstrap"}, {}, Describe}},
      {"delete", {kDeleteUsage, {}, {"bootstrap"}, {}, Delete}},
      {"reset-offsets",
       {kGroupResetUsage,
        {"all-topics", "to-earliest", "to-latest", "dry-run"},
        {"bootstrap", "to-offset", "shift-by", "to-datetime"},
        {"topic"},
        nullptr}},
  };
  return *commands;
}

}  // namespace

int Group(const Argv& argv) {
  if (!argv.empty() && (argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help")) {
    std::cout << kUsage;
    return 0;
  }
  if (argv.empty()) return Usage(absl::InvalidArgumentError("expected a command"), kUsage);
  auto it = Commands().find(argv[0]);
  if (it == Commands().end()) {
    return Usage(absl::InvalidArgumentError(absl::StrCat("unknown command '", argv[0], "'")),
                 kUsage);
  }
  const std::string& name = it->first;
  const Command& command = it->second;
  cli::Args args;
  if (auto exit = ParseOrUsage(Argv(argv.begin() + 1, argv.end()), command.bools, command.values,
                               command.repeated, command.usage, &args)) {
    return *exit;
  }
  size_t want = name == "list" ? 0 : 1;
  if (args.positional().size() != want || (want == 1 && args.positional()[0].empty())) {
    return Usage(absl::InvalidArgumentError(want == 0 ? "list takes no GROUP argument"
                                                      : "expected one GROUP argument"),
                 command.usage);
  }
  std::string group = want == 0 ? "" : args.positional()[0];
  auto bootstrap = BootstrapFlag(args);
  if (!bootstrap.ok()) return Usage(bootstrap.status(), command.usage);
  absl::StatusOr<ResetOptions> reset;
  if (command.run == nullptr) {
    reset = ParseResetOptions(args);
    if (!reset.ok()) return Usage(reset.status(), command.usage);
  }
  auto admin = Admin::Create({.bootstrap = *bootstrap, .client_id = "strata-group"});
  if (!admin.ok()) return Fail(absl::StrCat("strata group ", name), admin.status());
  if (command.run == nullptr) return ResetOffsets(**admin, group, *reset);
  return command.run(**admin, group);
}

}  // namespace strata::tools
