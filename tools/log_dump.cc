// strata log dump: prints segments and indexes the way kafka-dump-log does.
#include <cstdio>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/bytes.h"
#include "common/file.h"
#include "index/offset_index.h"
#include "index/time_index.h"
#include "log/batch_scanner.h"
#include "log/record_batch.h"
#include "log/segment.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace strata::tools {
namespace {

constexpr char kUsage[] =
    "usage: strata log dump <segment .log/.index/.timeindex file or partition dir>\n"
    "                       [--records] [--print-data] [--index]\n"
    "  --records     print every record of every batch\n"
    "  --print-data  with --records, print keys, values and headers too\n"
    "  --index       also print the index entries of each segment\n";

struct DumpOptions {
  bool records = false;
  bool print_data = false;
  bool index = false;
};

const char* Bool(bool b) { return b ? "true" : "false"; }

std::string Printable(std::span<const uint8_t> bytes) {
  std::string out;
  for (uint8_t c : bytes) {
    if (absl::ascii_isprint(c) && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", c));
    }
  }
  return out;
}

bool ParseBase(const std::string& path, absl::string_view suffix, Offset* base) {
  std::string name = BaseName(path);
  if (!absl::EndsWith(name, suffix)) return false;
  int64_t v;
  if (!absl::SimpleAtoi(name.substr(0, name.size() - suffix.size()), &v)) return false;
  *base = Offset(v);
  return true;
}

void PrintRecord(const RecordBatchView& batch, const Record& r, const DumpOptions& opts) {
  std::string line = absl::StrCat(
      "| offset: ", r.offset, " ",
      batch.timestamp_type() == TimestampType::kLogAppendTime ? "LogAppendTime" : "CreateTime",
      ": ", r.timestamp, " keySize: ", r.key ? static_cast<int64_t>(r.key->size()) : -1,
      " valueSize: ", r.value ? static_cast<int64_t>(r.value->size()) : -1,
      " sequence: ", batch.base_sequence() < 0 ? -1 : batch.base_sequence() + r.offset_delta);
  std::vector<std::string> header_keys;
  for (const auto& h : r.headers) header_keys.push_back(Printable(h.key));
  absl::StrAppend(&line, " headerKeys: [", absl::StrJoin(header_keys, ","), "]");
  if (batch.is_control() && r.key) {
    auto type = ParseControlKey(*r.key);
    const char* names[] = {"ABORT", "COMMIT", "LEADER_CHANGE"};
    int t = type.has_value() ? static_cast<int>(*type) : -1;
    absl::StrAppend(&line, " controlType: ", t >= 0 && t <= 2 ? names[t] : "UNKNOWN");
    if (r.value && r.value->size() >= 6 && t <= 1 && t >= 0) {
      absl::StrAppend(&line, " coordinatorEpoch: ",
                      static_cast<int32_t>(LoadBE32(r.value->data() + 2)));
    }
  } else if (opts.print_data) {
    absl::StrAppend(&line, " key: ", r.key ? Printable(*r.key) : "null",
                    " payload: ", r.value ? Printable(*r.value) : "null");
    for (const auto& h : r.headers) {
      absl::StrAppend(&line, " header[", Printable(h.key),
                      "]: ", h.value ? Printable(*h.value) : "null");
    }
  }
  std::cout << line << "\n";
}

void PrintBatch(const RecordBatchView& b, uint64_t position, bool valid) {
  std::cout << "baseOffset: " << b.base_offset() << " lastOffset: " << b.last_offset()
            << " count: " << b.record_count() << " baseSequence: " << b.base_sequence()
            << " lastSequence: " << b.last_sequence() << " producerId: " << b.producer_id()
            << " producerEpoch: " << b.producer_epoch()
            << " partitionLeaderEpoch: " << b.partition_leader_epoch()
            << " isTransactional: " << Bool(b.is_transactional())
            << " isControl: " << Bool(b.is_control()) << " deleteHorizonMs: "
            << (b.has_delete_horizon() ? absl::StrCat(b.base_timestamp()) : "none")
            << " position: " << position << " "
            << (b.timestamp_type() == TimestampType::kLogAppendTime ? "LogAppendTime"
                                                                    : "CreateTime")
            << ": " << b.max_timestamp() << " size: " << b.size_bytes()
            << " magic: " << static_cast<int>(b.magic())
            << " compresscodec: " << CompressionName(b.compression()) << " crc: " << b.crc()
            << " isvalid: " << Bool(valid) << "\n";
}

// Returns false if the file holds invalid bytes.
bool DumpLogFile(const std::string& path, const DumpOptions& opts) {
  auto file = FileSystem::Default()->Open(path, OpenMode::kReadOnly);
  if (!file.ok()) {
    std::cerr << "strata log dump: " << file.status().message() << "\n";
    return false;
  }
  uint64_t size = *(*file)->Size();
  Offset base;
  std::cout << "Dumping " << path << "\n";
  if (ParseBase(path, ".log", &base)) std::cout << "Log starting offset: " << base << "\n";
  internal::BatchReader reader(**file, size);
  uint64_t pos = 0;
  bool ok = true;
  while (pos < size) {
    auto bytes = reader.At(pos);
    if (!bytes.ok()) {
      std::cout << "Found " << size - pos << " invalid bytes at position " << pos
                << " (torn or corrupt tail): " << bytes.status().message() << "\n";
      return false;
    }
    auto view = RecordBatchView::ParseNoCrc(*bytes);
    if (!view.ok()) {
      std::cout << "Invalid batch at position " << pos << ": " << view.status().message() << "\n";
      ok = false;
      pos += bytes->size();
      continue;
    }
    bool valid = view->CrcMatches();
    ok = ok && valid;
    PrintBatch(*view, pos, valid);
    if (opts.records) {
      auto records = view->Records();
      Record r;
      absl::Status s = records.status();
      while (s.ok()) {
        auto more = records->Next(&r);
        if (!more.ok()) s = more.status();
        if (!s.ok() || !*more) break;
        PrintRecord(*view, r, opts);
      }
      if (!s.ok()) {
        std::cout << "| invalid records: " << s.message() << "\n";
        ok = false;
      }
    }
    pos += bytes->size();
  }
  return ok;
}

bool DumpIndexFile(const std::string& path) {
  Offset base;
  bool time = absl::EndsWith(path, ".timeindex");
  if (!ParseBase(path, time ? ".timeindex" : ".index", &base)) {
    std::cerr << "strata log dump: cannot tell the base offset from " << path << "\n";
    return false;
  }
  std::cout << "Dumping " << path << "\n";
  if (time) {
    auto index = TimeIndex::Open(FileSystem::Default(), path, base, 0, IndexMode::kReadOnly);
    if (!index.ok()) {
      std::cerr << "strata log dump: " << index.status().message() << "\n";
      return false;
    }
    for (size_t i = 0; i < (*index)->size(); ++i) {
      auto e = (*index)->EntryAt(i);
      std::cout << "timestamp: " << e.timestamp << " offset: " << e.offset << "\n";
    }
    return true;
  }
  auto index = OffsetIndex::Open(FileSystem::Default(), path, base, 0, IndexMode::kReadOnly);
  if (!index.ok()) {
    std::cerr << "strata log dump: " << index.status().message() << "\n";
    return false;
  }
  for (size_t i = 0; i < (*index)->size(); ++i) {
    auto e = (*index)->EntryAt(i);
    std::cout << "offset: " << e.offset << " position: " << e.position << "\n";
  }
  return true;
}

}  // namespace

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  auto names = FileSystem::Default()->ListDir(dir);
  if (!names.ok()) return out;
  for (const auto& name : *names) {
    Offset base;
    if (ParseBase(name, ".log", &base) && name.size() == 24) out.push_back(JoinPath(dir, name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

int LogDump(const Argv& argv) {
  cli::Args args;
  if (absl::Status s = args.Parse(argv, {"records", "print-data", "index", "help"}, {});
      !s.ok() || args.Has("help") || args.positional().size() != 1) {
    std::cerr << (s.ok() ? "" : std::string(s.message()) + "\n") << kUsage;
    return 2;
  }
  DumpOptions opts{args.Has("records") || args.Has("print-data"), args.Has("print-data"),
                   args.Has("index")};
  std::string target = args.positional()[0];
  FileSystem* fs = FileSystem::Default();
  if (!fs->Exists(target)) {
    std::cerr << "strata log dump: " << target << " does not exist\n";
    return 1;
  }
  bool ok = true;
  if (fs->IsDirectory(target)) {
    for (const auto& log : SegmentFiles(target)) {
      ok = DumpLogFile(log, opts) && ok;
      if (opts.index) {
        std::string stem = log.substr(0, log.size() - 4);
        for (const char* suffix : {".index", ".timeindex"}) {
          if (fs->Exists(stem + suffix)) ok = DumpIndexFile(stem + suffix) && ok;
        }
      }
    }
  } else if (absl::EndsWith(target, ".index") || absl::EndsWith(target, ".timeindex")) {
    ok = DumpIndexFile(target);
  } else {
    ok = DumpLogFile(target, opts);
  }
  return ok ? 0 : 1;
}

}  // namespace strata::tools
