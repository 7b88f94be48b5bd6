// Golden batches written by a real Kafka client: librdkafka (Debian's librdkafka-dev) produces to
// its own mock cluster through a recording proxy (installed with connect_cb), and the batches
// found in the captured Produce requests must parse, pass their CRC and hold exactly what was
// produced, for every codec.
//
// With STRATA_WRITE_FIXTURE=<dir> the zstd batch is also written to <dir>/librdkafka-zstd.batch,
// which is how tests/fixtures/librdkafka-zstd.batch was made.
#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "log/record_batch.h"

namespace strata {
namespace {

struct Capture {
  std::mutex mu;
  std::vector<std::shared_ptr<std::string>> streams;  // client -> broker bytes per connection
  std::vector<std::thread> threads;
  ~Capture() {
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
};

Capture* g_capture = nullptr;

void Pump(int client, int broker, std::shared_ptr<std::string> out) {
  pollfd fds[2] = {{client, POLLIN, 0}, {broker, POLLIN, 0}};
  char buf[65536];
  while (poll(fds, 2, 5000) > 0) {
    bool done = false;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        done = true;
        break;
      }
      if (i == 0) {
        std::lock_guard<std::mutex> lock(g_capture->mu);
        out->append(buf, static_cast<size_t>(n));
      }
      if (write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n) done = true;
    }
    if (done) break;
  }
  close(client);
  close(broker);
}

// librdkafka asks us to connect `sockfd` to `addr`: connect it to a one-shot proxy instead.
int ConnectThroughProxy(int sockfd, const sockaddr* addr, int addrlen, const char*, void*) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(local);
  if (bind(listener, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return errno;
  }
  sockaddr_storage target{};
  std::memcpy(&target, addr, static_cast<size_t>(addrlen));
  auto stream = std::make_shared<std::string>();
  std::lock_guard<std::mutex> lock(g_capture->mu);
  g_capture->streams.push_back(stream);
  g_capture->threads.emplace_back([listener, target, addrlen, stream] {
    int client = accept(listener, nullptr, nullptr);
    close(listener);
    int broker = socket(target.ss_family, SOCK_STREAM, 0);
    if (connect(broker, reinterpret_cast<const sockaddr*>(&target), addrlen) != 0) {
      close(client);
      close(broker);
      return;
    }
    Pump(client, broker, stream);
  });
  // librdkafka's socket is non-blocking; connect_cb must finish the connection itself.
  int flags = fcntl(sockfd, F_GETFL);
  fcntl(sockfd, F_SETFL, flags & ~O_NONBLOCK);
  int rc = connect(sockfd, reinterpret_cast<sockaddr*>(&local), sizeof(local));
  int saved = errno;
  fcntl(sockfd, F_SETFL, flags);
  return rc == 0 ? 0 : saved;
}

// Extracts the `records` of every Produce (v3..v8) request partition in a client stream.
std::vector<std::string> ProduceRecords(const std::string& stream) {
  std::vector<std::string> out;
  ByteReader r(AsBytes(stream));
  while (r.remaining() >= 4) {
    int32_t size = *r.ReadInt32();
    auto frame = r.ReadBytes(static_cast<size_t>(size));
    if (!frame.ok()) break;
    ByteReader f(*frame);
    int16_t api_key = *f.ReadInt16();
    int16_t version = *f.ReadInt16();
    (void)f.ReadInt32();  // correlation id
    int16_t client_id_len = *f.ReadInt16();
    if (client_id_len > 0) (void)f.Skip(static_cast<size_t>(client_id_len));
    if (api_key != 0 || version < 3 || version > 8) continue;
    int16_t txn_len = *f.ReadInt16();
    if (txn_len > 0) (void)f.Skip(static_cast<size_t>(txn_len));
    (void)f.ReadInt16();  // acks
    (void)f.ReadInt32();  // timeout
    int32_t topics = *f.ReadInt32();
    for (int32_t t = 0; t < topics; ++t) {
      (void)f.Skip(static_cast<size_t>(*f.ReadInt16()));
      int32_t partitions = *f.ReadInt32();
      for (int32_t p = 0; p < partitions; ++p) {
        (void)f.ReadInt32();
        int32_t n = *f.ReadInt32();
        out.emplace_back(AsStringView(*f.ReadBytes(static_cast<size_t>(n))));
      }
    }
  }
  return out;
}

class LibrdkafkaBatchTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LibrdkafkaBatchTest, ProducedBatchesParse) {
  Capture capture;
  g_capture = &capture;
  char err[512];
  rd_kafka_conf_t* host_conf = rd_kafka_conf_new();
  rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, host_conf, err, sizeof(err));
  ASSERT_NE(host, nullptr) << err;
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(host, 1);
  ASSERT_NE(mock, nullptr);

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const char* v) {
    ASSERT_EQ(rd_kafka_conf_set(conf, k, v, err, sizeof(err)), RD_KAFKA_CONF_OK) << err;
  };
  set("bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mock));
  set("compression.codec", GetParam());
  set("linger.ms", "50");
  set("batch.num.messages", "1000");
  rd_kafka_conf_set_connect_cb(conf, ConnectThroughProxy);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_NE(producer, nullptr) << err;
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) {
    std::string key = absl::StrCat("key-", i);
    std::string value = absl::StrCat("value-", i, "-", std::string(50, 'v'));
    ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("golden"), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(value.data(), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(host);
  for (auto& t : capture.threads) t.join();

  int records = 0;
  for (const auto& stream : capture.streams) {
    for (const std::string& batch : ProduceRecords(*stream)) {
      auto view = RecordBatchView::Parse(AsBytes(batch));
      ASSERT_TRUE(view.ok()) << view.status();
      EXPECT_EQ(view->size_bytes(), batch.size()) << "exactly one batch per partition";
      EXPECT_STREQ(CompressionName(view->compression()),
                   std::string(GetParam()) == "none" ? "none" : GetParam());
      ASSERT_TRUE(view->ValidateRecords(/*strict=*/true).ok());
      auto reader = view->Records();
      Record r;
      while (*reader->Next(&r)) {
        EXPECT_EQ(AsStringView(*r.key), absl::StrCat("key-", records));
        ++records;
      }
      if (const char* dir = getenv("STRATA_WRITE_FIXTURE");
          dir != nullptr && std::string(GetParam()) == "zstd") {
        std::ofstream(absl::StrCat(dir, "/librdkafka-zstd.batch"), std::ios::binary) << batch;
      }
    }
  }
  EXPECT_EQ(records, kCount);
}

INSTANTIATE_TEST_SUITE_P(Codecs, LibrdkafkaBatchTest,
                         ::testing::Values("none", "gzip", "snappy", "lz4", "zstd"));

}  // namespace
}  // namespace strata
