// Starts a real `strata serve` process on a free loopback port with its own data directory, for
// integration tests. Stopped (SIGTERM, then SIGKILL after a timeout) when the object dies.
//
//   testing::BrokerProcess broker;              // starts, waits until it serves
//   ASSERT_TRUE(broker.ok()) << broker.log();
//   std::string bootstrap = broker.bootstrap();  // "127.0.0.1:PORT"
//   broker.Restart();                           // clean stop + start on the same data dir
//   broker.Kill();                              // SIGKILL
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "tests/testing/temp_dir.h"

#ifndef STRATA_BINARY
#error "STRATA_BINARY must name the strata executable"
#endif

namespace strata::testing {

class BrokerProcess {
 public:
  explicit BrokerProcess(std::vector<std::string> extra_args = {}) : extra_(std::move(extra_args)) {
    Start();
  }
  // Launches the process without waiting for it to serve (see WaitUntilServing).
  struct NoWait {};
  BrokerProcess(std::vector<std::string> extra_args, NoWait) : extra_(std::move(extra_args)) {
    Launch();
  }
  ~BrokerProcess() { Stop(); }
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  bool ok() const { return pid_ > 0 && !bootstrap_.empty(); }
  const std::string& bootstrap() const { return bootstrap_; }
  int port() const { return port_; }
  std::string data_dir() const { return dir_.Sub("data"); }
  std::string log() const {
    auto s = ReadFileToString(FileSystem::Default(), dir_.Sub("broker.log"));
    return s.ok() ? *s : "";
  }

  // Graceful stop (SIGTERM); returns the exit status (0 = clean).
  int Stop(int timeout_ms = 20000) { return Signal(SIGTERM, timeout_ms); }
  void Kill() { Signal(SIGKILL, 5000); }
  // SIGSTOP / SIGCONT: the process stays, but answers nothing while paused.
  void Pause() {
    if (pid_ > 0) kill(pid_, SIGSTOP);
  }
  void Resume() {
    if (pid_ > 0) kill(pid_, SIGCONT);
  }
  // Stops cleanly and starts again on the same data directory and port.
  void Restart() {
    Stop();
    Start();
  }
  // Launches the process and waits up to 30 s until it serves (or exits).
  void Start() {
    Launch();
    WaitUntilServing(30'000);
  }
  // Whether the process has not exited (yet).
  bool Running() {
    int status;
    if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  // Waits until the broker serves (its ready file names its address) or exits; ok() says which.
  bool WaitUntilServing(int timeout_ms) {
    bootstrap_.clear();
    for (int waited = 0; waited < timeout_ms && bootstrap_.empty(); waited += 10) {
      auto text = ReadFileToString(FileSystem::Default(), dir_.Sub("ready"));
      if (text.ok() && !text->empty()) {
        bootstrap_ = std::string(absl::StripTrailingAsciiWhitespace(*text));
        port_ = std::stoi(bootstrap_.substr(bootstrap_.rfind(':') + 1));
        break;
      }
      if (!Running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ok();
  }

 private:
  void Launch() {
    std::string ready = dir_.Sub("ready");
    (void)FileSystem::Default()->Remove(ready);
    std::vector<std::string> args = {STRATA_BINARY,  "serve",    "--data-dir",
                                     data_dir(),     "--listen", absl::StrCat("127.0.0.1:", port_),
                                     "--ready-file", ready};
    args.insert(args.end(), extra_.begin(), extra_.end());
    // A broker forked by the main thread dies with a crashed test (the death signal follows the
    // forking thread, so brokers restarted from helper threads go without it).
    bool main_thread = gettid() == getpid();
    pid_ = fork();
    if (pid_ == 0) {
      if (main_thread) prctl(PR_SET_PDEATHSIG, SIGKILL);
      // Neither output stream may stay tied to ctest's pipe, or a crashed test hangs ctest.
      std::string log_path = dir_.Sub("broker.log");
      FILE* f = freopen(log_path.c_str(), "a", stderr);
      f = freopen(log_path.c_str(), "a", stdout);
      (void)f;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  int Signal(int sig, int timeout_ms) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    for (int waited = 0; waited < timeout_ms; waited += 10) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }

  TempDir dir_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string bootstrap_;
};

}  // namespace strata::testing
