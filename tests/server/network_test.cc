// The network layer on its own: a NetworkServer on a free loopback port with test handlers,
// driven by plain sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/bytes.h"
#include "common/file.h"
#include "server/network_server.h"
#include "tests/testing/temp_dir.h"

namespace strata::server {
namespace {

// Frames are: int32 tag, then a command byte. Responses: the tag, then the payload.
//   'E' echo now; 'D' delay 50 ms then echo (from another thread); 'F' reply with a file slice;
//   'N' no response; 'C' close.
class TestHandler : public FrameHandler {
 public:
  void HandleFrame(std::span<uint8_t> frame, Responder responder, const ConnectionInfo&) override {
    ++frames;
    std::string body(reinterpret_cast<char*>(frame.data()), frame.size());
    char cmd = body.size() > 4 ? body[4] : 'E';
    Response r;
    if (cmd == 'N') return responder.Send(Response::None());
    if (cmd == 'C') return responder.Send(Response::Close());
    if (cmd == 'F' && file != nullptr) {
      r.bytes = Frame(body.substr(0, 8) + "<", file_len + 1);
      r.bytes += ">";
      r.splices.push_back({r.bytes.size() - 1, FileSlice{file, 0, file_len}});
      return responder.Send(std::move(r));
    }
    r.bytes = Frame(body, 0);
    if (cmd == 'D') {
      std::thread([responder, r = std::move(r)]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        responder.Send(std::move(r));
      }).detach();
      return;
    }
    responder.Send(std::move(r));
  }
  static std::string Frame(const std::string& body, size_t extra) {
    std::string out(4, '\0');
    StoreBE32(reinterpret_cast<uint8_t*>(out.data()), static_cast<uint32_t>(body.size() + extra));
    return out + body;
  }
  std::atomic<int> frames{0};
  std::shared_ptr<File> file;
  uint64_t file_len = 0;
};

class NetworkTest : public ::testing::Test {
 protected:
  void StartServer(ConnectionLimits limits = {}) {
    server_ = std::make_unique<NetworkServer>(
        NetworkOptions{.host = "127.0.0.1", .port = 0, .reactors = 2, .limits = limits}, &handler_);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(1000);
  }
  int Connect() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  static void SendFrame(int fd, uint32_t tag, char cmd, const std::string& extra = "") {
    std::string body(4, '\0');
    StoreBE32(reinterpret_cast<uint8_t*>(body.data()), tag);
    body.push_back(cmd);
    body += "pad";  // frames are at least 8 bytes (a request header's fixed part)
    body += extra;
    std::string frame = TestHandler::Frame(body, 0);
    ASSERT_EQ(send(fd, frame.data(), frame.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(frame.size()));
  }
  // Reads one response frame; returns its body, or "<eof>".
  static std::string ReadFrame(int fd) {
    uint8_t len[4];
    if (!ReadExactly(fd, len, 4)) return "<eof>";
    std::string body(LoadBE32(len), '\0');
    if (!ReadExactly(fd, reinterpret_cast<uint8_t*>(body.data()), body.size())) return "<eof>";
    return body;
  }
  static bool ReadExactly(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t r = recv(fd, p, n, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        if (r < 0) fprintf(stderr, "recv failed: %s (wanted %zu)\n", strerror(errno), n);
        return false;
      }
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  static uint32_t Tag(const std::string& body) {
    return LoadBE32(reinterpret_cast<const uint8_t*>(body.data()));
  }

  TestHandler handler_;
  std::unique_ptr<NetworkServer> server_;
};

TEST_F(NetworkTest, PipelinedResponsesKeepRequestOrder) {
  StartServer();
  int fd = Connect();
  // Delayed responses complete after later immediate ones; the wire order must not change.
  for (uint32_t i = 0; i < 20; ++i) SendFrame(fd, i, i % 3 == 0 ? 'D' : 'E');
  for (uint32_t i = 0; i < 20; ++i) EXPECT_EQ(Tag(ReadFrame(fd)), i);
  close(fd);
}

TEST_F(NetworkTest, NoResponseRequestsAreSkipped) {
  StartServer();
  int fd = Connect();
  SendFrame(fd, 1, 'E');
  SendFrame(fd, 2, 'N');
  SendFrame(fd, 3, 'E');
  EXPECT_EQ(Tag(ReadFrame(fd)), 1u);
  EXPECT_EQ(Tag(ReadFrame(fd)), 3u);
  close(fd);
}

TEST_F(NetworkTest, SplicedFileBytesArriveInPlace) {
  testing::TempDir dir;
  std::string content(300000, 'z');
  for (size_t i = 0; i < content.size(); i += 7) content[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(WriteFileAtomically(FileSystem::Default(), dir.Sub("f"), content).ok());
  handler_.file = std::move(*FileSystem::Default()->Open(dir.Sub("f"), OpenMode::kReadOnly));
  handler_.file_len = content.size();
  for (bool copy : {false, true}) {
    StartServer({.copy_instead_of_sendfile = copy});
    int fd = Connect();
    SendFrame(fd, 7, 'F');
    SendFrame(fd, 8, 'E');
    std::string body = ReadFrame(fd);
    ASSERT_EQ(body.size(), 4 + 1 + 3 + 1 + content.size() + 1) << "copy=" << copy;
    EXPECT_EQ(Tag(body), 7u);
    EXPECT_EQ(body.substr(9, content.size()), content) << "copy=" << copy;
    EXPECT_EQ(body.back(), '>');
    EXPECT_EQ(Tag(ReadFrame(fd)), 8u);
    close(fd);
    server_->Shutdown(1000);
  }
}

TEST_F(NetworkTest, OversizedOrTinyFrameClosesOnlyThatConnection) {
  StartServer({.max_request_bytes = 1024});
  int good = Connect();
  int bad = Connect();
  uint8_t huge[4];
  StoreBE32(huge, 0x7fffffff);  // a 2 GiB length prefix
  ASSERT_EQ(send(bad, huge, 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(ReadFrame(bad), "<eof>");
  close(bad);
  int tiny = Connect();
  StoreBE32(huge, 3);
  ASSERT_EQ(send(tiny, huge, 4, MSG_NOSIGNAL), 4);
  EXPECT_EQ(ReadFrame(tiny), "<eof>");
  close(tiny);
  SendFrame(good, 5, 'E');
  EXPECT_EQ(Tag(ReadFrame(good)), 5u) << "other connections unaffected";
  close(good);
}

TEST_F(NetworkTest, LargeFramesAndTruncatedFrames) {
  StartServer();
  int fd = Connect();
  SendFrame(fd, 9, 'E', std::string(3 << 20, 'q'));  // 3 MiB: the buffer grows
  EXPECT_EQ(ReadFrame(fd).size(), 4 + 1 + 3 + (3u << 20));
  // A client that vanishes mid-frame.
  int gone = Connect();
  std::string partial = TestHandler::Frame(std::string(1000, 'x'), 0).substr(0, 500);
  ASSERT_EQ(send(gone, partial.data(), partial.size(), MSG_NOSIGNAL), 500);
  close(gone);
  SendFrame(fd, 10, 'E');
  EXPECT_EQ(Tag(ReadFrame(fd)), 10u);
  close(fd);
}

TEST_F(NetworkTest, BackpressureStopsReadingButServesEverything) {
  StartServer({.max_inflight_requests = 4});
  int fd = Connect();
  // 200 delayed requests: at most 4 in flight at a time, all answered in order.
  std::thread writer([&] {
    for (uint32_t i = 0; i < 40; ++i) SendFrame(fd, i, 'D');
  });
  for (uint32_t i = 0; i < 40; ++i) ASSERT_EQ(Tag(ReadFrame(fd)), i);
  writer.join();
  close(fd);
}

TEST_F(NetworkTest, CloseResponseAndIdleTimeout) {
  StartServer({.idle_timeout_ms = 300});
  int fd = Connect();
  SendFrame(fd, 1, 'E');
  SendFrame(fd, 2, 'C');
  EXPECT_EQ(Tag(ReadFrame(fd)), 1u);
  EXPECT_EQ(ReadFrame(fd), "<eof>");
  close(fd);
  int idle = Connect();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadFrame(idle), "<eof>") << "closed for idleness";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  close(idle);
}

TEST_F(NetworkTest, ClientVanishingMidResponse) {
  testing::TempDir dir;
  std::string content(8 << 20, 'y');
  ASSERT_TRUE(WriteFileAtomically(FileSystem::Default(), dir.Sub("f"), content).ok());
  handler_.file = std::move(*FileSystem::Default()->Open(dir.Sub("f"), OpenMode::kReadOnly));
  handler_.file_len = content.size();
  StartServer();
  for (int i = 0; i < 5; ++i) {
    int fd = Connect();
    SendFrame(fd, 1, 'F');
    char buf[1000];
    ssize_t n;
    do {
      n = recv(fd, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    ASSERT_GT(n, 0) << "connection " << i << ": " << (n < 0 ? strerror(errno) : "eof");
    close(fd);  // 8 MiB response only partly read
  }
  int fd = Connect();
  SendFrame(fd, 2, 'E');
  EXPECT_EQ(Tag(ReadFrame(fd)), 2u);
  close(fd);
}

TEST_F(NetworkTest, GracefulShutdownFinishesInFlightRequests) {
  StartServer();
  int fd = Connect();
  SendFrame(fd, 1, 'D');
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::thread stopper([&] { server_->Shutdown(2000); });
  EXPECT_EQ(Tag(ReadFrame(fd)), 1u) << "the delayed response still arrives";
  EXPECT_EQ(ReadFrame(fd), "<eof>");
  stopper.join();
  close(fd);
}

}  // namespace
}  // namespace strata::server
