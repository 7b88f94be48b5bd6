// Connection's I/O: writing requests in order and the reader thread that matches responses.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/connection.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "protocol/header.h"

namespace strata::client {

namespace {

constexpr size_t kCorrelationIdOffset = 8;  // size(4) api_key(2) api_version(2)
constexpr size_t kReadChunkBytes = 64 << 10;

int64_t NowMs() { return Clock::System()->MonotonicMs(); }

void Wake(int fd) {
  uint64_t one = 1;
  ssize_t n = write(fd, &one, sizeof(one));
  (void)n;  // the counter saturating is harmless: the reader is awake then
}

}  // namespace

void Connection::SendFrame(std::string frame, int16_t api_key, int16_t version,
                           ResponseCallback done, const SendOptions& options) {
  int64_t timeout_ms = options.timeout_ms > 0 ? options.timeout_ms : options_.request_timeout_ms;
  int64_t deadline = NowMs() + timeout_ms;
  absl::Status status;
  bool queued = false;
  {
    absl::MutexLock send_lock(&send_mu_);
    if (options.expect_response) status = WaitForSlot(deadline);
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      status = failed_;
      if (status.ok()) {
        int32_t id = next_correlation_id_++;
        if (next_correlation_id_ == INT32_MAX) next_correlation_id_ = 1;
        StoreBE32(reinterpret_cast<uint8_t*>(frame.data()) + kCorrelationIdOffset,
                  static_cast<uint32_t>(id));
        if (options.expect_response) {
          if (pending_.empty()) Wake(wake_fd_);
          pending_.push_back({id, protocol::ResponseHeaderVersion(api_key, version), deadline,
                              timeout_ms, std::move(done)});
          queued = true;
        }
      }
    }
    // Written outside mu_ (the reader needs it) but inside send_mu_ (keeps the wire order).
    if (status.ok()) {
      status = WriteAll(frame, deadline);
      // A partly written frame leaves the stream unusable.
      if (!status.ok()) Fail(status);
    }
  }
  if (queued) return;  // the reader (or Fail) completes it
  if (!status.ok()) return done(status);
  done(ResponseFrame{});
}

absl::Status Connection::WaitForSlot(int64_t deadline_ms) {
  absl::MutexLock lock(&mu_);
  auto has_slot = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_.size() < options_.max_in_flight || !failed_.ok();
  };
  absl::Duration wait = absl::Milliseconds(std::max<int64_t>(0, deadline_ms - NowMs()));
  if (!mu_.AwaitWithTimeout(absl::Condition(&has_slot), wait)) {
    return absl::DeadlineExceededError(absl::StrCat("no free request slot on ", address_.ToString(),
                                                    " (", pending_.size(), " requests in flight)"));
  }
  return failed_;
}

absl::Status Connection::WriteAll(const std::string& bytes, int64_t deadline_ms) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      return absl::UnavailableError(
          absl::StrCat("write to ", address_.ToString(), ": ", strerror(errno)));
    }
    int64_t left = deadline_ms - NowMs();
    if (left <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("write to ", address_.ToString(), " timed out"));
    }
    // Wakes at least every second to notice Close() from another thread.
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (closed()) return absl::UnavailableError("connection closed while writing");
  }
  return absl::OkStatus();
}

void Connection::ReadLoop() {
  while (true) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = poll(fds, 2, PollTimeoutMs());
    if (closed()) return;
    if (n < 0 && errno != EINTR) {
      Fail(absl::UnavailableError(absl::StrCat("poll: ", strerror(errno))));
      return;
    }
    if (n > 0 && (fds[1].revents & POLLIN)) {
      uint64_t count;
      ssize_t r = read(wake_fd_, &count, sizeof(count));
      (void)r;
    }
    if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (absl::Status s = ReadAvailable(); !s.ok()) {
        Fail(s);
        return;
      }
    }
    CheckDeadline();
  }
}

int Connection::PollTimeoutMs() {
  absl::MutexLock lock(&mu_);
  if (pending_.empty()) return -1;
  return static_cast<int>(std::clamp<int64_t>(pending_.front().deadline_ms - NowMs(), 0, 60'000));
}

void Connection::CheckDeadline() {
  int64_t timeout_ms = 0;
  {
    absl::MutexLock lock(&mu_);
    if (pending_.empty() || pending_.front().deadline_ms > NowMs()) return;
    timeout_ms = pending_.front().timeout_ms;
  }
  // Responses come in order, so the connection is useless once one is late.
  Fail(absl::DeadlineExceededError(
      absl::StrCat("request to ", address_.ToString(), " timed out after ", timeout_ms, " ms")));
}

absl::Status Connection::ReadAvailable() {
  char chunk[kReadChunkBytes];
  while (true) {
    // A large frame body is read straight into the frame, skipping the chunk copy.
    bool direct = in_frame_ && frame_.size() - frame_have_ >= kReadChunkBytes;
    char* into = direct ? frame_.data() + frame_have_ : chunk;
    size_t want = direct ? frame_.size() - frame_have_ : kReadChunkBytes;
    ssize_t n = recv(fd_, into, want, 0);
    if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat("broker ", address_.ToString(), " closed the connection"));
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return absl::OkStatus();
      return absl::UnavailableError(
          absl::StrCat("read from ", address_.ToString(), ": ", strerror(errno)));
    }
    if (direct) {
      frame_have_ += static_cast<size_t>(n);
      if (frame_have_ == frame_.size()) {
        in_frame_ = false;
        RETURN_IF_ERROR(Deliver(std::move(frame_)));
      }
      continue;
    }
    RETURN_IF_ERROR(Consume(chunk, static_cast<size_t>(n)));
  }
}

absl::Status Connection::Consume(const char* data, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    if (!in_frame_) {
      size_t take = std::min(sizeof(size_bytes_) - size_have_, n - pos);
      memcpy(size_bytes_ + size_have_, data + pos, take);
      size_have_ += take;
      pos += take;
      if (size_have_ < sizeof(size_bytes_)) break;
      size_have_ = 0;
      int32_t size = static_cast<int32_t>(LoadBE32(reinterpret_cast<uint8_t*>(size_bytes_)));
      if (size < 4 || static_cast<size_t>(size) > options_.max_response_bytes) {
        return absl::UnavailableError(
            absl::StrCat("bad response frame size ", size, " from ", address_.ToString()));
      }
      frame_ = std::string(static_cast<size_t>(size), '\0');
      frame_have_ = 0;
      in_frame_ = true;
    }
    size_t take = std::min(frame_.size() - frame_have_, n - pos);
    memcpy(frame_.data() + frame_have_, data + pos, take);
    frame_have_ += take;
    pos += take;
    if (frame_have_ == frame_.size()) {
      in_frame_ = false;
      RETURN_IF_ERROR(Deliver(std::move(frame_)));
    }
  }
  return absl::OkStatus();
}

absl::Status Connection::Deliver(std::string frame) {
  Pending p;
  {
    absl::MutexLock lock(&mu_);
    if (pending_.empty()) {
      return absl::UnavailableError(absl::StrCat("unexpected response from ", address_.ToString()));
    }
    p = std::move(pending_.front());
    pending_.pop_front();
  }
  protocol::Reader r(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(frame.data()), frame.size()));
  absl::StatusOr<int32_t> id = protocol::DecodeResponseHeader(r, p.header_version);
  absl::Status bad;
  if (!id.ok()) {
    bad = absl::UnavailableError(absl::StrCat("bad response header from ", address_.ToString(),
                                              ": ", id.status().message()));
  } else if (*id != p.correlation_id) {
    bad =
        absl::UnavailableError(absl::StrCat("response correlation id ", *id, " from ",
                                            address_.ToString(), ", expected ", p.correlation_id));
  }
  if (!bad.ok()) {
    p.done(bad);
    return bad;
  }
  size_t body = r.position();
  p.done(ResponseFrame{std::move(frame), body});
  return absl::OkStatus();
}

void Connection::Fail(const absl::Status& why) {
  std::deque<Pending> waiting;
  {
    absl::MutexLock lock(&mu_);
    if (failed_.ok()) {
      failed_ = why.ok() ? absl::UnavailableError("connection closed") : why;
      shutdown(fd_, SHUT_RDWR);
      Wake(wake_fd_);
    }
    waiting.swap(pending_);
  }
  absl::Status status = absl::IsDeadlineExceeded(why) || absl::IsUnavailable(why)
                            ? why
                            : absl::UnavailableError(why.message());
  for (Pending& p : waiting) p.done(status);
}

}  // namespace strata::client
