// The broker end to end over loopback, each beside the machine's raw limit measured in the same
// run (issue 3):
//   produce  1 KiB records in 64 KiB / 256 KiB / 1 MiB batches, acks=1, 8 requests in flight,
//            vs a plain socket-to-file copy loop (read(2) + write(2) of the same bytes);
//   fetch    1 MiB fetches from a cached partition, vs a plain sendfile-to-socket loop over the
//            same segment file (64 KiB chunks), and with the broker's copy mode for comparison.
// The broker runs in-process with one reactor thread; the client is one thread.
//   build/release/perf/strata_broker_bench [--benchmark_repetitions=5]
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/bytes.h"
#include "log/batch_scanner.h"
#include "perf/bench_util.h"
#include "perf/broker_fixture.h"
#include "perf/net_util.h"
#include "protocol/fetch.h"
#include "protocol/frame.h"
#include "protocol/produce.h"
#include "server/broker.h"

namespace strata {
namespace {

using bench::Connect;
using bench::Listener;
using bench::ReadAll;
using bench::ReadFrame;
using bench::WriteAll;

using bench::BrokerFixture;

std::string ProduceFrame(const std::string& batch, int32_t corr) {
  protocol::ProduceRequest req;
  req.acks = 1;
  req.timeout_ms = 30000;
  auto& t = req.topic_data.emplace_back();
  t.name = "bench";
  auto& p = t.partition_data.emplace_back();
  p.index = 0;
  p.records.bytes = AsBytes(batch);
  return protocol::EncodeRequestFrame(protocol::RequestHeader{0, 7, corr, std::string("bench")},
                                      req);
}

// Sends `frames` Produce requests with at most 8 in flight; returns seconds.
double RunProduce(int port, const std::string& frame, int frames) {
  return bench::Pipeline(port, frame, frames, 8);
}

// The raw limit for produce: the same bytes copied socket -> file by a plain read/write loop.
double RawSocketToFile(const std::string& path, const std::string& frame, int frames) {
  Listener l;
  uint64_t total = frame.size() * static_cast<uint64_t>(frames);
  std::thread server([&] {
    int c = l.Accept();
    int out = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    std::vector<char> buf(1 << 20);
    uint64_t done = 0;
    while (done < total) {
      ssize_t n = read(c, buf.data(), buf.size());
      if (n <= 0) abort();
      WriteAll(out, buf.data(), static_cast<size_t>(n));
      done += static_cast<uint64_t>(n);
    }
    WriteAll(c, "x", 1);  // done
    close(out);
    close(c);
  });
  int fd = Connect(l.port);
  int64_t start = bench::NowNs();
  for (int i = 0; i < frames; ++i) WriteAll(fd, frame.data(), frame.size());
  char ack;
  ReadAll(fd, &ack, 1);
  double s = static_cast<double>(bench::NowNs() - start) / 1e9;
  close(fd);
  server.join();
  unlink(path.c_str());
  return s;
}

void BM_ProduceVsRawCopy(benchmark::State& state) {
  BrokerFixture f;
  std::string batch = bench::BatchOfSize(static_cast<size_t>(state.range(0)));
  std::string frame = ProduceFrame(batch, 1);
  int frames = static_cast<int>((256u << 20) / batch.size());
  double broker_s = 0, raw_s = 0;
  for (auto _ : state) {
    double b = RunProduce(f.broker->port(), frame, frames);
    double r = RawSocketToFile(f.scratch.Sub("raw"), frame, frames);
    broker_s += b;
    raw_s += r;
    state.SetIterationTime(b);
  }
  double bytes =
      static_cast<double>(batch.size()) * frames * static_cast<double>(state.iterations());
  state.counters["broker_MBps"] = bytes / broker_s / 1e6;
  state.counters["raw_copy_MBps"] = bytes / raw_s / 1e6;
  state.counters["broker_over_raw"] = raw_s / broker_s;
}
BENCHMARK(BM_ProduceVsRawCopy)
    ->Arg(64 << 10)
    ->Arg(256 << 10)
    ->Arg(1 << 20)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// Fills the partition with `bytes` of 16 KiB batches through the broker.
void Fill(int port, uint64_t bytes) {
  std::string frame = ProduceFrame(bench::BatchOfSize(16 << 10), 1);
  RunProduce(port, frame, static_cast<int>(bytes / (16 << 10)));
}

// Reads the partition front to back with 1 MiB fetches; returns seconds and record bytes.
double RunFetch(int port, uint64_t* bytes) {
  int fd = Connect(port);
  int64_t start = bench::NowNs();
  int64_t offset = 0;
  *bytes = 0;
  while (true) {
    protocol::FetchRequest req;
    req.max_wait_ms = 0;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    auto& t = req.topics.emplace_back();
    t.topic = "bench";
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    std::string frame =
        protocol::EncodeRequestFrame(protocol::RequestHeader{1, 11, 1, std::string("b")}, req);
    WriteAll(fd, frame.data(), frame.size());
    std::string body = ReadFrame(fd);
    protocol::Reader r(AsBytes(body));
    if (!protocol::DecodeResponseHeader(r, 0).ok()) abort();
    protocol::FetchResponse resp;
    if (!resp.Decode(r, 11).ok()) abort();
    std::span<const uint8_t> records = resp.responses[0].partitions[0].records.bytes;
    if (records.empty()) break;
    *bytes += records.size();
    for (size_t pos = 0; pos + batch_format::kHeaderSize <= records.size();) {
      auto s = ParseSummary(records.subspan(pos), FilePosition(pos));
      if (!s.ok() || pos + s->size_bytes > records.size()) break;
      offset = s->last_offset.value() + 1;
      pos += s->size_bytes;
    }
  }
  double s = static_cast<double>(bench::NowNs() - start) / 1e9;
  close(fd);
  return s;
}

// The raw limit for fetch: sendfile(2) of the same segment file to a socket in `chunk` pieces.
double RawSendfile(const std::string& path, size_t chunk, uint64_t* bytes) {
  Listener l;
  int in = open(path.c_str(), O_RDONLY);
  off_t size = lseek(in, 0, SEEK_END);
  *bytes = static_cast<uint64_t>(size);
  std::thread server([&] {
    int c = l.Accept();
    off_t off = 0;
    while (off < size) {
      if (sendfile(c, in, &off, chunk) <= 0) abort();
    }
    close(c);
  });
  int fd = Connect(l.port);
  std::vector<char> buf(1 << 20);
  int64_t start = bench::NowNs();
  uint64_t got = 0;
  while (got < static_cast<uint64_t>(size)) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) abort();
    got += static_cast<uint64_t>(n);
  }
  double s = static_cast<double>(bench::NowNs() - start) / 1e9;
  close(fd);
  server.join();
  close(in);
  return s;
}

void FetchBench(benchmark::State& state, bool copy_mode) {
  BrokerFixture f([&](server::BrokerConfig& c) {
    c.fetch_copy_mode = copy_mode;
    c.sendfile_chunk_bytes = state.range(0);
  });
  Fill(f.broker->port(), 256u << 20);
  std::string segment = f.scratch.Sub("data/bench-0/00000000000000000000.log");
  uint64_t warm = 0;
  RunFetch(f.broker->port(), &warm);  // page cache warm
  // The raw limit is the better of 64 KiB and 1 MiB sendfile chunks on this machine.
  double broker_s = 0, raw64_s = 0, raw1m_s = 0;
  uint64_t broker_bytes = 0, raw_bytes = 0;
  for (auto _ : state) {
    uint64_t b = 0, r = 0;
    double bs = RunFetch(f.broker->port(), &b);
    raw64_s += RawSendfile(segment, 64 << 10, &r);
    raw1m_s += RawSendfile(segment, 1 << 20, &r);
    broker_s += bs;
    broker_bytes += b;
    raw_bytes += r;
    state.SetIterationTime(bs);
  }
  double broker_mbps = static_cast<double>(broker_bytes) / broker_s / 1e6;
  double raw64 = static_cast<double>(raw_bytes) / raw64_s / 1e6;
  double raw1m = static_cast<double>(raw_bytes) / raw1m_s / 1e6;
  state.counters["broker_MBps"] = broker_mbps;
  state.counters["raw_sendfile_64K_MBps"] = raw64;
  state.counters["raw_sendfile_1M_MBps"] = raw1m;
  state.counters["broker_over_raw"] = broker_mbps / std::max(raw64, raw1m);
}

void BM_FetchVsRawSendfile(benchmark::State& state) { FetchBench(state, false); }
void BM_FetchCopyModeVsRawSendfile(benchmark::State& state) { FetchBench(state, true); }
// Arg: the broker's strata.fetch.sendfile.chunk.bytes.
BENCHMARK(BM_FetchVsRawSendfile)
    ->Arg(64 << 10)
    ->Arg(1 << 20)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FetchCopyModeVsRawSendfile)
    ->Arg(64 << 10)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata
