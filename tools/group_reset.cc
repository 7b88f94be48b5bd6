#include "tools/group_reset.h"

#include <algorithm>
#include <iostream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "tools/client_flags.h"
#include "tools/table.h"

namespace strata::tools {

const char kGroupResetUsage[] =
    "usage: strata group reset-offsets GROUP --bootstrap HOST:PORT SCOPE TARGET [--dry-run]\n"
    "Moves the group's committed offsets and commits them (Kafka's tool needs --execute; this\n"
    "one commits unless --dry-run is given). Refused while the group has active members (any\n"
    "state but Empty or Dead): stop its consumers first.\n"
    "  SCOPE, one of:\n"
    "    --topic T[:P1,P2,...]   topic T (every partition) or some of its partitions;\n"
    "                            repeatable\n"
    "    --all-topics            every partition of every topic the group has committed\n"
    "                            offsets for\n"
    "  TARGET, one of:\n"
    "    --to-earliest           the log start offset\n"
    "    --to-latest             the log end offset\n"
    "    --to-offset N           offset N\n"
    "    --shift-by N            the committed offset plus N (N < 0 moves back)\n"
    "    --to-datetime T         the first offset whose timestamp is at or after T (the log\n"
    "                            end when there is none). T is ISO-8601\n"
    "                            YYYY-MM-DDTHH:MM:SS[.sss] with an optional zone: Z, +HH:MM or\n"
    "                            -HH:MM; without a zone T is UTC.\n"
    "                            e.g. 2024-05-01T12:00:00, 2024-05-01T14:00:00.250+02:00\n"
    "  New offsets are clamped to [log start, log end].\n"
    "  --dry-run                 print the new offsets, commit nothing\n"
    "Prints one row per partition: topic, partition, current committed offset, new offset.\n";

namespace {

constexpr char kCommand[] = "strata group reset-offsets";

absl::Status Bad(absl::string_view flag, absl::string_view why, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why, ": '", text, "'"));
}

// "+HH:MM" / "-HH:MM" at the end of `*text`: removes it, sets the offset from UTC in minutes.
bool ConsumeZoneOffset(absl::string_view* text, int64_t* minutes) {
  if (text->size() < 6) return false;
  absl::string_view zone = text->substr(text->size() - 6);
  int hours, mins;
  if ((zone[0] != '+' && zone[0] != '-') || zone[3] != ':' ||
      !absl::ascii_isdigit(static_cast<unsigned char>(zone[1])) ||
      !absl::SimpleAtoi(zone.substr(1, 2), &hours) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(zone[4])) ||
      !absl::SimpleAtoi(zone.substr(4, 2), &mins) || hours > 23 || mins > 59) {
    return false;
  }
  *minutes = (zone[0] == '-' ? -1 : 1) * (hours * 60 + mins);
  text->remove_suffix(6);
  return true;
}

}  // namespace

absl::StatusOr<TopicSelection> ParseTopicSelection(absl::string_view text) {
  // Kafka topic names have no ':', so the last one separates the partitions.
  size_t colon = text.rfind(':');
  TopicSelection out{std::string(text.substr(0, colon)), {}};
  if (out.topic.empty()) return Bad("--topic", "no topic name", text);
  if (colon == absl::string_view::npos) return out;
  std::set<int32_t> seen;
  for (absl::string_view part : absl::StrSplit(text.substr(colon + 1), ',')) {
    int32_t p;
    if (!absl::SimpleAtoi(part, &p) || p < 0) return Bad("--topic", "bad partition list", text);
    if (seen.insert(p).second) out.partitions.push_back(p);
  }
  return out;
}

absl::StatusOr<int64_t> ParseDateTimeMs(absl::string_view text) {
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  int64_t zone_minutes = 0;
  if (!absl::ConsumeSuffix(&rest, "Z") && !absl::ConsumeSuffix(&rest, "z")) {
    ConsumeZoneOffset(&rest, &zone_minutes);
  }
  absl::Time t;
  std::string error;
  // %E*S: seconds with an optional fraction of any precision. Out-of-range fields (month 13,
  // February 30) do not parse.
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*S", rest, absl::UTCTimeZone(), &t, &error)) {
    return Bad("--to-datetime",
               absl::StrCat("expected YYYY-MM-DDTHH:MM:SS[.sss][Z|+HH:MM|-HH:MM] (", error, ")"),
               text);
  }
  int64_t ms = absl::ToUnixMillis(t) - zone_minutes * 60'000;
  // Negative timestamps mean "latest"/"earliest" to ListOffsets.
  if (ms < 0) return Bad("--to-datetime", "before 1970-01-01T00:00:00Z", text);
  return ms;
}

absl::StatusOr<ResetOptions> ParseResetOptions(const cli::Args& args) {
  using Kind = ResetTarget::Kind;
  ResetOptions o;
  for (const std::string& t : args.GetAll("topic")) {
    ASSIGN_OR_RETURN(TopicSelection selection, ParseTopicSelection(t));
    o.topics.push_back(std::move(selection));
  }
  o.all_topics = args.Has("all-topics");
  if (o.all_topics == !o.topics.empty()) {
    return absl::InvalidArgumentError("give --topic T[:P1,P2,...] (repeatable) or --all-topics");
  }
  const std::pair<const char*, Kind> kTargets[] = {{"to-earliest", Kind::kEarliest},
                                                   {"to-latest", Kind::kLatest},
                                                   {"to-offset", Kind::kOffset},
                                                   {"shift-by", Kind::kShiftBy},
                                                   {"to-datetime", Kind::kDateTime}};
  int given = 0;
  for (const auto& [flag, kind] : kTargets) {
    if (args.Has(flag)) {
      ++given;
      o.target.kind = kind;
    }
  }
  if (given != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --to-earliest, --to-latest, --to-offset N, --shift-by N, "
        "--to-datetime T");
  }
  absl::Status err;
  if (o.target.kind == Kind::kOffset) o.target.value = args.GetInt("to-offset", 0, &err);
  if (o.target.kind == Kind::kShiftBy) o.target.value = args.GetInt("shift-by", 0, &err);
  if (o.target.kind == Kind::kDateTime) {
    ASSIGN_OR_RETURN(o.target.value, ParseDateTimeMs(args.Get("to-datetime")));
  }
  RETURN_IF_ERROR(err);
  o.dry_run = args.Has("dry-run");
  return o;
}

absl::StatusOr<int64_t> NewOffset(const ResetTarget& target, int64_t committed, int64_t log_start,
                                  int64_t log_end, int64_t offset_at_time) {
  int64_t wanted = log_start;
  switch (target.kind) {
    case ResetTarget::Kind::kEarliest:
      wanted = log_start;
      break;
    case ResetTarget::Kind::kLatest:
      wanted = log_end;
      break;
    case ResetTarget::Kind::kOffset:
      wanted = target.value;
      break;
    case ResetTarget::Kind::kShiftBy:
      if (committed < 0) {
        return absl::FailedPreconditionError(
            "no committed offset to shift from (pick committed partitions with --topic T:P,...)");
      }
      if (__builtin_add_overflow(committed, target.value, &wanted)) {
        wanted = target.value < 0 ? INT64_MIN : INT64_MAX;
      }
      break;
    case ResetTarget::Kind::kDateTime:
      wanted = offset_at_time < 0 ? log_end : offset_at_time;
      break;
  }
  return std::clamp(wanted, log_start, std::max(log_start, log_end));
}

namespace {

using client::Admin;
using client::TopicPartition;

struct Move {
  int64_t current = -1;  // committed now; -1: none
  int64_t next = -1;
};
using Plan = std::map<TopicPartition, Move>;

absl::StatusOr<std::set<TopicPartition>> SelectPartitions(Admin& admin, const std::string& group,
                                                          const ResetOptions& o,
                                                          const client::GroupOffsets& committed) {
  std::vector<TopicSelection> topics = o.topics;
  if (o.all_topics) {
    std::set<std::string> names;
    for (const auto& [tp, unused] : committed) names.insert(tp.topic);
    if (names.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("group '", group,
                       "' has no committed offsets, so --all-topics selects nothing; "
                       "name the topics with --topic"));
    }
    for (const std::string& name : names) topics.push_back({name, {}});
  }
  std::set<TopicPartition> out;
  for (const TopicSelection& selection : topics) {
    ASSIGN_OR_RETURN(client::TopicMetadata t, admin.DescribeTopic(selection.topic));
    auto count = static_cast<int32_t>(t.partitions.size());
    for (int32_t p = 0; selection.partitions.empty() && p < count; ++p) {
      out.insert({selection.topic, p});
    }
    for (int32_t p : selection.partitions) {
      if (p >= count) {
        return absl::NotFoundError(absl::StrCat("topic ", selection.topic, " has ", count,
                                                " partition(s); there is no partition ", p));
      }
      out.insert({selection.topic, p});
    }
  }
  return out;
}

// One ListOffsets `spec` for each partition; the first partition that fails fails the call.
absl::StatusOr<std::map<TopicPartition, int64_t>> ListAll(
    Admin& admin, const std::set<TopicPartition>& partitions, int64_t spec) {
  std::map<TopicPartition, int64_t> specs;
  for (const TopicPartition& tp : partitions) specs[tp] = spec;
  ASSIGN_OR_RETURN(client::OffsetResults results, admin.ListOffsets(specs));
  std::map<TopicPartition, int64_t> out;
  for (const auto& [tp, result] : results) {
    if (!result.ok()) return result.status();
    out[tp] = result->offset;
  }
  return out;
}

absl::StatusOr<Plan> MakePlan(Admin& admin, const ResetTarget& target,
                              const std::set<TopicPartition>& partitions,
                              const client::GroupOffsets& committed) {
  ASSIGN_OR_RETURN(auto starts, ListAll(admin, partitions, client::kEarliestOffsetSpec));
  ASSIGN_OR_RETURN(auto ends, ListAll(admin, partitions, client::kLatestOffsetSpec));
  std::map<TopicPartition, int64_t> at_time;
  if (target.kind == ResetTarget::Kind::kDateTime) {
    ASSIGN_OR_RETURN(at_time, ListAll(admin, partitions, target.value));
  }
  Plan plan;
  for (const TopicPartition& tp : partitions) {
    auto c = committed.find(tp);
    Move& m = plan[tp];
    m.current = c == committed.end() ? -1 : c->second.offset;
    auto t = at_time.find(tp);
    absl::StatusOr<int64_t> next = NewOffset(target, m.current, starts.at(tp), ends.at(tp),
                                             t == at_time.end() ? -1 : t->second);
    if (!next.ok()) {
      return absl::Status(next.status().code(),
                          absl::StrCat(tp.ToString(), ": ", next.status().message()));
    }
    m.next = *next;
  }
  return plan;
}

void PrintPlan(const Plan& plan) {
  Table table({"TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"});
  for (const auto& [tp, m] : plan) {
    table.Add({tp.topic, absl::StrCat(tp.partition),
               m.current < 0 ? std::string("-") : absl::StrCat(m.current), absl::StrCat(m.next)});
  }
  table.Print(std::cout);
}

int Commit(Admin& admin, const std::string& group, const Plan& plan) {
  std::map<TopicPartition, int64_t> offsets;
  for (const auto& [tp, m] : plan) offsets[tp] = m.next;
  auto results = admin.CommitGroupOffsets(group, offsets);
  if (!results.ok()) return Fail(kCommand, results.status());
  size_t failed = 0;
  for (const auto& [tp, s] : *results) {
    if (s.ok()) continue;
    ++failed;
    std::cerr << kCommand << ": " << s.message() << "\n";
  }
  if (failed > 0) {
    std::cerr << kCommand << ": " << failed << " of " << offsets.size()
              << " partition(s) not committed (did a consumer join the group meanwhile?)\n";
    return 1;
  }
  std::cout << "Committed new offsets of " << offsets.size() << " partition(s) for group " << group
            << ".\n";
  return 0;
}

}  // namespace

int ResetOffsets(Admin& admin, const std::string& group, const ResetOptions& options) {
  auto described = admin.DescribeGroup(group);
  if (!described.ok()) return Fail(kCommand, described.status());
  if (described->state != "Empty" && described->state != "Dead") {
    return Fail(
        kCommand,
        absl::FailedPreconditionError(absl::StrCat(
            "group '", group, "' is ", described->state, " with ", described->members.size(),
            " active member(s); offsets can only be reset while it has none (state Empty "
            "or Dead): stop its consumers first")));
  }
  auto committed = admin.FetchGroupOffsets(group);
  if (!committed.ok()) return Fail(kCommand, committed.status());
  auto partitions = SelectPartitions(admin, group, options, *committed);
  if (!partitions.ok()) return Fail(kCommand, partitions.status());
  auto plan = MakePlan(admin, options.target, *partitions, *committed);
  if (!plan.ok()) return Fail(kCommand, plan.status());
  PrintPlan(*plan);
  if (options.dry_run) {
    std::cout << "Dry run: nothing committed (run without --dry-run to commit).\n";
    return 0;
  }
  return Commit(admin, group, *plan);
}

}  // namespace strata::tools
