#include "server/connection.h"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/logging.h"

namespace strata::server {
namespace {

constexpr size_t kInitialBuffer = 64 * 1024;
// A client sending frames too big for the initial buffer (a producer's large batches) gets a
// buffer for several of them, so one recv carries many frames, as a streaming read would.
constexpr size_t kStreamingBuffer = 1024 * 1024;
constexpr size_t kMinFrame = 8;  // api key, version, correlation id

int64_t NowMs() { return Clock::System()->MonotonicMs(); }

}  // namespace

void Responder::Send(Response response) const {
  if (reactor_ == nullptr) return;
  if (reactor_->InReactorThread()) {
    if (auto c = conn_.lock()) c->Deliver(seq_, std::move(response));
    return;
  }
  reactor_->Post([conn = conn_, seq = seq_, r = std::move(response)]() mutable {
    if (auto c = conn.lock()) c->Deliver(seq, std::move(r));
  });
}

void ConnectionSet::ForEach(const std::function<void(Connection&)>& fn) {
  // Copy: fn may close (and so remove) connections.
  std::vector<std::shared_ptr<Connection>> all;
  all.reserve(conns_.size());
  for (auto& [id, c] : conns_) all.push_back(c);
  for (auto& c : all) fn(*c);
}

Connection::Connection(int fd, Reactor* reactor, FrameHandler* handler,
                       const ConnectionLimits& limits, ConnectionInfo info, ConnectionSet* owner)
    : fd_(fd),
      reactor_(reactor),
      handler_(handler),
      limits_(limits),
      info_(std::move(info)),
      owner_(owner),
      rbuf_(new uint8_t[kInitialBuffer]),
      rcap_(kInitialBuffer),
      last_active_ms_(NowMs()) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

void Connection::Start() { MaybeRead(); }

bool Connection::OverLimits() const {
  return pending_.size() >= limits_.max_inflight_requests ||
         pending_bytes_ + (rlen_ - rstart_) >= limits_.max_buffered_bytes;
}

void Connection::MaybeRead() {
  if (closed_ || draining_ || recv_op_.active || OverLimits()) return;
  if (rstart_ > 0 && rcap_ - rlen_ < rcap_ / 4) Compact();  // keep recvs large
  if (rlen_ == rcap_) {
    // A frame larger than the buffer: ProcessFrames grew it; a full buffer here means
    // complete frames wait for backpressure to lift.
    return;
  }
  recv_op_.active = true;
  reactor_->SubmitRecv(fd_, rbuf_.get() + rlen_, rcap_ - rlen_, &recv_op_);
}

void Connection::OnRecv(int res, uint32_t) {
  auto self = shared_from_this();  // a close below may drop the last owner
  recv_op_.active = false;
  if (closed_) return MaybeRelease();
  if (res <= 0) {
    if (res == -EINTR || res == -EAGAIN) return MaybeRead();
    Close(res == 0 ? "peer closed" : strerror(-res));
    return;
  }
  last_active_ms_ = NowMs();
  rlen_ += static_cast<size_t>(res);
  ProcessFrames();
  MaybeRead();
}

void Connection::ProcessFrames() {
  // Handlers may respond synchronously, and delivering a response may try to process frames
  // again: never re-enter (the loop below owns `pos`). While a recv is in flight the buffer
  // holds only an incomplete frame, and moving it would misplace the bytes being received.
  if (processing_ || recv_op_.active) return;
  processing_ = true;
  ProcessBufferedFrames();
  processing_ = false;
}

void Connection::Compact() {
  std::memmove(rbuf_.get(), rbuf_.get() + rstart_, rlen_ - rstart_);
  rlen_ -= rstart_;
  rstart_ = 0;
}

void Connection::ProcessBufferedFrames() {
  size_t pos = rstart_;
  while (!closed_ && !draining_ && rlen_ - pos >= 4 && !OverLimits()) {
    auto size = static_cast<int32_t>(LoadBE32(rbuf_.get() + pos));
    if (size < static_cast<int32_t>(kMinFrame) ||
        static_cast<uint64_t>(size) > limits_.max_request_bytes) {
      LOG_EVENT(Warn, "connection.bad_frame_size")
          .Kv("peer", info_.peer)
          .Kv("size", size)
          .Kv("max", limits_.max_request_bytes);
      Close("bad frame size");
      return;
    }
    size_t frame_end = pos + 4 + static_cast<size_t>(size);
    if (frame_end > rlen_) {
      if (4 + static_cast<size_t>(size) > rcap_) {
        // Grow to hold the whole frame (several, up to kStreamingBuffer), keeping what is
        // buffered.
        size_t cap = std::max({rcap_ * 2, 4 + static_cast<size_t>(size), kStreamingBuffer});
        std::unique_ptr<uint8_t[]> bigger(new uint8_t[cap]);
        std::memcpy(bigger.get(), rbuf_.get() + pos, rlen_ - pos);
        rbuf_ = std::move(bigger);
        rcap_ = cap;
        rlen_ -= pos;
        pos = 0;
      } else if (pos + 4 + static_cast<size_t>(size) > rcap_) {
        // It fits the buffer but not after `pos`: make room now.
        rstart_ = pos;
        Compact();
        pos = 0;
      }
      break;
    }
    uint64_t seq = next_seq_++;
    pending_.push_back(Slot{seq});
    handler_->HandleFrame({rbuf_.get() + pos + 4, static_cast<size_t>(size)},
                          Responder(weak_from_this(), reactor_, seq), info_);
    pos = frame_end;
  }
  if (closed_) return;
  rstart_ = pos;
  if (rstart_ == rlen_) {
    rstart_ = rlen_ = 0;
  } else if (rlen_ - rstart_ < 4 && rcap_ - rlen_ < 4) {
    Compact();  // not even a size prefix fits after it
  }
  if (rlen_ == 0 && rcap_ > 4 * 1024 * 1024) {
    rbuf_.reset(new uint8_t[kInitialBuffer]);  // give a huge buffer back once drained
    rcap_ = kInitialBuffer;
  }
}

void Connection::Deliver(uint64_t seq, Response response) {
  auto self = shared_from_this();  // a close below may drop the last owner
  if (closed_) return;
  for (Slot& slot : pending_) {
    if (slot.seq != seq) continue;
    slot.ready = true;
    pending_bytes_ += response.bytes.size();
    slot.response = std::move(response);
    break;
  }
  PumpSends();
}

void Connection::PumpSends() {
  while (!closed_ && !sending_ && !pending_.empty() && pending_.front().ready) {
    Response& r = pending_.front().response;
    if (r.close && r.total_bytes() == 0) return Close("closed by handler");
    if (r.none || r.bytes.empty()) {
      pending_bytes_ -= r.bytes.size();
      pending_.pop_front();
      continue;
    }
    sending_ = true;
    mem_pos_ = 0;
    splice_idx_ = 0;
    splice_done_ = 0;
    ContinueSend();
  }
  if (!closed_ && draining_ && pending_.empty()) Close("drained");
  if (!closed_ && !sending_ && !processing_) {
    ProcessFrames();  // backpressure may have lifted
    MaybeRead();
  }
}

void Connection::OnSend(int res, uint32_t) {
  auto self = shared_from_this();  // a close below may drop the last owner
  send_op_.active = false;
  if (closed_) return MaybeRelease();
  if (res <= 0) return Close(res == 0 ? "send made no progress" : strerror(-res));
  last_active_ms_ = NowMs();
  if (!copy_buf_.empty()) {
    // Copy mode: part of a file chunk went out.
    splice_done_ += static_cast<uint64_t>(res);
    copy_buf_.erase(0, static_cast<size_t>(res));
    if (!copy_buf_.empty()) {
      send_op_.active = true;
      reactor_->SubmitSend(fd_, copy_buf_.data(), copy_buf_.size(), &send_op_);
      return;
    }
  } else {
    mem_pos_ += static_cast<size_t>(res);
  }
  ContinueSend();
}

// Advances through the current response: memory parts with io_uring sends, file parts with
// sendfile (or pread + send in copy mode). Returns when an operation is in flight.
void Connection::ContinueSend() {
  Response& r = pending_.front().response;
  while (true) {
    size_t mem_end =
        splice_idx_ < r.splices.size() ? r.splices[splice_idx_].offset : r.bytes.size();
    if (mem_pos_ < mem_end) {
      send_op_.active = true;
      reactor_->SubmitSend(fd_, r.bytes.data() + mem_pos_, mem_end - mem_pos_, &send_op_);
      return;
    }
    if (splice_idx_ == r.splices.size()) break;
    if (splice_done_ < r.splices[splice_idx_].slice.length) {
      if (!SendFileChunk()) return;  // an operation is in flight, or the connection closed
      continue;
    }
    ++splice_idx_;
    splice_done_ = 0;
  }
  pending_bytes_ -= r.bytes.size();
  const bool close_after = r.close;
  pending_.pop_front();
  sending_ = false;
  if (close_after) return Close("closed by handler after its answer");
  PumpSends();
}

bool Connection::SendFileChunk() {
  const FileSlice& slice = pending_.front().response.splices[splice_idx_].slice;
  uint64_t left = slice.length - splice_done_;
  size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, limits_.sendfile_chunk_bytes));
  int in_fd = slice.file->native_handle();
  if (limits_.copy_instead_of_sendfile || in_fd < 0) {
    copy_buf_.resize(chunk);
    auto n = slice.file->ReadAt(slice.position + splice_done_,
                                {reinterpret_cast<uint8_t*>(copy_buf_.data()), chunk});
    if (!n.ok() || *n != chunk) {
      Close("segment file shorter than promised");
      return false;
    }
    send_op_.active = true;
    reactor_->SubmitSend(fd_, copy_buf_.data(), chunk, &send_op_);
    return false;
  }
  off_t off = static_cast<off_t>(slice.position + splice_done_);
  ssize_t n = ::sendfile(fd_, in_fd, &off, chunk);
  if (n > 0) {
    splice_done_ += static_cast<uint64_t>(n);
    last_active_ms_ = NowMs();
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    poll_op_.active = true;
    reactor_->SubmitPoll(fd_, POLLOUT, &poll_op_);
    return false;
  }
  // n == 0: the file ended early (truncated under us); the frame's length is now a lie.
  Close(n == 0 ? "segment file shorter than promised" : strerror(errno));
  return false;
}

void Connection::OnWritable(int res, uint32_t) {
  auto self = shared_from_this();  // a close below may drop the last owner
  poll_op_.active = false;
  if (closed_) return MaybeRelease();
  if (res < 0) return Close(strerror(-res));
  ContinueSend();
}

void Connection::Drain() {
  auto self = shared_from_this();  // a close below may drop the last owner
  draining_ = true;
  if (pending_.empty()) Close("drained");
}

bool Connection::CloseIfIdle(int64_t now_ms) {
  auto self = shared_from_this();  // a close below may drop the last owner
  if (closed_ || !pending_.empty() || now_ms - last_active_ms_ < limits_.idle_timeout_ms) {
    return false;
  }
  Close("idle");
  return true;
}

void Connection::Close(const char* why) {
  if (closed_) return;
  closed_ = true;
  LOG_EVENT(Debug, "connection.closed").Kv("peer", info_.peer).Kv("why", why);
  ::shutdown(fd_, SHUT_RDWR);  // pending recv/send complete promptly
  for (Op* op : {&recv_op_, &send_op_, &poll_op_}) {
    if (op->active) reactor_->SubmitCancel(op);
  }
  pending_.clear();
  MaybeRelease();
}

void Connection::MaybeRelease() {
  if (!closed_ || released_ || recv_op_.active || send_op_.active || poll_op_.active) return;
  released_ = true;
  // Removing from the set may destroy `this`: nothing may follow.
  owner_->Remove(info_.id);
}

}  // namespace strata::server
