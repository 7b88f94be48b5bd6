#include "tests/testing/rdkafka.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace strata::testing {

Message ToMessage(const rd_kafka_message_t* m) {
  Message msg;
  msg.partition = m->partition;
  msg.offset = m->offset;
  msg.timestamp = rd_kafka_message_timestamp(m, nullptr);
  if (m->key) msg.key.assign(static_cast<char*>(m->key), m->key_len);
  if (m->payload) msg.value.assign(static_cast<char*>(m->payload), m->len);
  return msg;
}

rd_kafka_conf_t* NewConf(const std::map<std::string, std::string>& conf, std::string* error) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  for (const auto& [k, v] : conf) {
    if (rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      *error = err;
      rd_kafka_conf_destroy(c);
      return nullptr;
    }
  }
  return c;
}

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& conf,
                      std::string* error, void (*configure)(rd_kafka_conf_t*)) {
  rd_kafka_conf_t* c = NewConf(conf, error);
  if (c == nullptr) return nullptr;
  if (configure != nullptr) configure(c);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, c, err, sizeof(err));
  if (rk == nullptr) *error = err;
  return rk;
}

Producer::Producer(const std::map<std::string, std::string>& conf,
                   void (*configure)(rd_kafka_conf_t*)) {
  rd_kafka_conf_t* c = NewConf(conf, &error_);
  if (c == nullptr) return;
  rd_kafka_conf_set_dr_msg_cb(c, &Producer::OnDelivery);
  rd_kafka_conf_set_opaque(c, this);
  if (configure != nullptr) configure(c);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
  if (rk_ == nullptr) error_ = err;
}

Producer::~Producer() {
  if (rk_ != nullptr) {
    rd_kafka_flush(rk_, 5000);
    rd_kafka_destroy(rk_);
  }
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  auto index = reinterpret_cast<uintptr_t>(m->_private);
  if (self->delivered_.size() <= index) self->delivered_.resize(index + 1, -2);
  self->delivered_[index] = m->err ? -1 : m->offset;
  if (m->err) ++self->failures_;
}

rd_kafka_resp_err_t Producer::Send(const std::string& topic, const std::string* key,
                                   const std::string& value, int32_t partition, int64_t timestamp) {
  uintptr_t index = sent_++;
  while (true) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                          RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(index)), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
    rd_kafka_poll(rk_, 50);
  }
}

int Producer::Flush(int timeout_ms) {
  rd_kafka_flush(rk_, timeout_ms);
  int missing = 0;
  for (int64_t d : delivered_) missing += d == -2 ? 1 : 0;
  return failures_ + missing + static_cast<int>(sent_ - delivered_.size());
}

std::vector<Message> Consume(const std::string& bootstrap, const std::string& topic,
                             const std::vector<int32_t>& partitions, int64_t start_offset,
                             size_t count, int timeout_ms,
                             const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> conf = {{"bootstrap.servers", bootstrap},
                                             {"group.id", "strata-test"},
                                             {"enable.auto.commit", "false"},
                                             {"fetch.wait.max.ms", "100"}};
  for (const auto& [k, v] : extra) conf[k] = v;
  std::string error;
  rd_kafka_t* rk = NewClient(RD_KAFKA_CONSUMER, conf, &error);
  std::vector<Message> out;
  if (rk == nullptr) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  for (int32_t p : partitions) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = start_offset;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (!m->err) {
      out.push_back(ToMessage(m));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

std::string CreateTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                        const std::map<std::string, std::string>& configs, int replication_factor) {
  std::string error;
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap}}, &error);
  if (rk == nullptr) return error;
  char err[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, err, sizeof(err));
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 20000);
  std::string result = "timed out";
  if (ev != nullptr) {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
    result = rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
             : n == 1 && rd_kafka_topic_result_error(topics[0])
                 ? rd_kafka_topic_result_error_string(topics[0])
                 : "";
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_destroy(rk);
  return result;
}

// ---- proxy ----

namespace {

struct ProxyState {
  std::mutex mu;
  uint64_t cut_after = 0;
  int max_cuts = 0;
  int cuts = 0;
  std::vector<std::thread> threads;
};

ProxyState& State() {
  static ProxyState* s = new ProxyState();
  return *s;
}

void Pump(int client, int broker) {
  pollfd fds[2] = {{client, POLLIN, 0}, {broker, POLLIN, 0}};
  char buf[65536];
  uint64_t up = 0;
  while (poll(fds, 2, 30000) > 0) {
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0 || write(fds[1 - i].fd, buf, static_cast<size_t>(n)) != n) {
        done = true;
        break;
      }
      if (i == 0) up += static_cast<uint64_t>(n);
      std::lock_guard<std::mutex> lock(State().mu);
      if (State().cut_after > 0 && up >= State().cut_after && State().cuts < State().max_cuts) {
        ++State().cuts;
        done = true;  // cut this connection mid-stream
      }
    }
    if (done) break;
  }
  shutdown(client, SHUT_RDWR);
  shutdown(broker, SHUT_RDWR);
  close(client);
  close(broker);
}

int ConnectCb(int sockfd, const sockaddr* addr, int addrlen, const char*, void*) {
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
  {
    std::lock_guard<std::mutex> lock(State().mu);
    State().threads.emplace_back([listener, target, addrlen] {
      int client = accept(listener, nullptr, nullptr);
      close(listener);
      int broker = socket(target.ss_family, SOCK_STREAM, 0);
      if (connect(broker, reinterpret_cast<const sockaddr*>(&target), addrlen) != 0) {
        close(client);
        close(broker);
        return;
      }
      Pump(client, broker);
    });
  }
  int flags = fcntl(sockfd, F_GETFL);
  fcntl(sockfd, F_SETFL, flags & ~O_NONBLOCK);
  int rc = connect(sockfd, reinterpret_cast<sockaddr*>(&local), sizeof(local));
  int saved = errno;
  fcntl(sockfd, F_SETFL, flags);
  return rc == 0 ? 0 : saved;
}

}  // namespace

void ConnectionProxy::Install(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_connect_cb(conf, ConnectCb);
}

void ConnectionProxy::Reset(uint64_t cut_after_bytes, int max_cuts) {
  std::lock_guard<std::mutex> lock(State().mu);
  State().cut_after = cut_after_bytes;
  State().max_cuts = max_cuts;
  State().cuts = 0;
}

int ConnectionProxy::cuts() {
  std::lock_guard<std::mutex> lock(State().mu);
  return State().cuts;
}

void ConnectionProxy::JoinAll() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(State().mu);
    threads.swap(State().threads);
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace strata::testing
