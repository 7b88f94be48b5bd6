// Records both directions of every connection a librdkafka client opens, by installing a
// connect callback that routes each connection through a one-shot loopback proxy (the
// technique of tests/log/librdkafka_batch_test.cc, here keeping broker -> client bytes too).
//
//   RecordingProxy proxy;
//   proxy.Install(conf);                 // before rd_kafka_new(..., conf, ...)
//   ... run the client, destroy it and the mock cluster ...
//   for (const auto& c : proxy.Finish()) Check(c->to_broker, c->to_client);
//
// Only one RecordingProxy may be installed at a time (librdkafka's callback has no per-proxy
// state we can rely on across conf copies), and it must outlive the clients that use it.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace strata::protocol::test {

struct CapturedConnection {
  std::string to_broker;  // requests, as the client sent them
  std::string to_client;  // responses, as the broker sent them
};

class RecordingProxy {
 public:
  RecordingProxy();
  ~RecordingProxy();
  RecordingProxy(const RecordingProxy&) = delete;
  RecordingProxy& operator=(const RecordingProxy&) = delete;

  void Install(rd_kafka_conf_t* conf);
  // Waits for every proxied connection to close and returns what each carried.
  std::vector<std::shared_ptr<CapturedConnection>> Finish();

 private:
  static int Connect(int sockfd, const struct sockaddr* addr, int addrlen, const char* id,
                     void* opaque);

  std::mutex mu_;
  std::vector<std::shared_ptr<CapturedConnection>> connections_;
  std::vector<std::thread> threads_;
};

}  // namespace strata::protocol::test
