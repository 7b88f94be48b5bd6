// Starts a real etcd (Debian's etcd-server) on free loopback ports with its own temp data
// directory, for tests. It dies with the test (PR_SET_PDEATHSIG) and is killed when the object
// dies.
//
//   testing::EtcdProcess etcd;            // starts, waits until it answers
//   ASSERT_TRUE(etcd.ok()) << etcd.log();
//   OpenMetadataStore(etcd.uri(), {});    // "etcd://127.0.0.1:PORT"
//   etcd.Kill();  etcd.Start();           // crash and restart on the same data dir and ports
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "replication/etcd_store.h"
#include "tests/testing/temp_dir.h"

namespace strata::testing {

// A loopback port that was free a moment ago (the kernel picks it).
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

class EtcdProcess {
 public:
  EtcdProcess() : client_port_(FreeLoopbackPort()), peer_port_(FreeLoopbackPort()) { Start(); }
  ~EtcdProcess() { Kill(); }
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  bool ok() const { return pid_ > 0 && ready_; }
  std::string endpoint() const { return absl::StrCat("http://127.0.0.1:", client_port_); }
  std::string uri() const { return absl::StrCat("etcd://127.0.0.1:", client_port_); }
  int client_port() const { return client_port_; }
  std::string log() const {
    auto s = ReadFileToString(FileSystem::Default(), dir_.Sub("etcd.log"));
    return s.ok() ? *s : "";
  }

  // Starts etcd on the same data directory and ports; waits up to 10 s until it answers. The
  // first start retries on new ports (another process may have taken a "free" one meanwhile).
  bool Start() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (StartOnce()) {
        started_once_ = true;
        return true;
      }
      if (started_once_) return false;
      Kill();
      (void)RemoveTree(FileSystem::Default(), dir_.Sub("data"));
      client_port_ = FreeLoopbackPort();
      peer_port_ = FreeLoopbackPort();
    }
    return false;
  }

  // SIGSTOP / SIGCONT: etcd hangs (accepts connections, answers nothing) until resumed.
  void Pause() {
    if (pid_ > 0) kill(pid_, SIGSTOP);
  }
  void Resume() {
    if (pid_ > 0) kill(pid_, SIGCONT);
  }

  // SIGKILL: a crash. The data directory stays for Start().
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    ready_ = false;
  }

 private:
  bool StartOnce() {
    std::string client = absl::StrCat("http://127.0.0.1:", client_port_);
    std::string peer = absl::StrCat("http://127.0.0.1:", peer_port_);
    std::vector<std::string> args = {"etcd",
                                     "--name",
                                     "default",
                                     "--data-dir",
                                     dir_.Sub("data"),
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     absl::StrCat("default=", peer)};
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::string log_path = dir_.Sub("etcd.log");
      FILE* f = freopen(log_path.c_str(), "a", stderr);
      f = freopen(log_path.c_str(), "a", stdout);
      (void)f;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    ready_ = WaitUntilServing();
    return ready_;
  }

  bool WaitUntilServing() {
    auto store = EtcdMetadataStore::Open(
        {.endpoint = endpoint(), .request_timeout_ms = 500, .connect_timeout_ms = 200});
    if (!store.ok()) return false;
    for (int i = 0; i < 500; ++i) {
      if ((*store)->Get("/strata-test-ping").ok()) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  TempDir dir_;
  int client_port_;
  int peer_port_;
  pid_t pid_ = -1;
  bool ready_ = false;
  bool started_once_ = false;
};

}  // namespace strata::testing
