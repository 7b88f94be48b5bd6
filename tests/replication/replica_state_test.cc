// LeaderReplicaState: high watermark, caught-up times, ISR shrink/expand and acks=all, on
// explicit times.
#include "replication/replica_state.h"

#include "gtest/gtest.h"

namespace strata {
namespace {

using AcksAll = LeaderReplicaState::AcksAll;

LeaderReplicaState ThreeReplicas(int64_t now_ms, Offset end = Offset(100),
                                 Offset hw = Offset(100)) {
  return LeaderReplicaState({.self = 1,
                             .replicas = {1, 2, 3},
                             .isr = {1, 2, 3},
                             .leader_end = end,
                             .high_watermark = hw,
                             .epoch_start = end},
                            now_ms);
}

TEST(LeaderReplicaState, HighWatermarkIsTheSlowestInSyncReplica) {
  auto s = ThreeReplicas(0);
  s.OnLeaderAppend(Offset(150));
  EXPECT_EQ(s.high_watermark(), Offset(100));  // no follower has fetched past 100 yet
  s.OnFollowerFetch(2, Offset(150), 10);
  EXPECT_EQ(s.high_watermark(), Offset(100));  // 3 has not fetched at all
  s.OnFollowerFetch(3, Offset(120), 10);
  EXPECT_EQ(s.high_watermark(), Offset(120));
  s.OnFollowerFetch(3, Offset(150), 20);
  EXPECT_EQ(s.high_watermark(), Offset(150));
  // Never backwards, never past the leader's end.
  s.OnFollowerFetch(2, Offset(90), 30);
  EXPECT_EQ(s.high_watermark(), Offset(150));
  s.OnFollowerFetch(2, Offset(999), 40);
  EXPECT_EQ(s.follower_end(2), Offset(150));
  EXPECT_EQ(s.follower_end(7), Offset(-1));
}

TEST(LeaderReplicaState, AloneInTheIsrTheLeaderAdvancesByItself) {
  LeaderReplicaState s({.self = 1, .replicas = {1, 2}, .isr = {1}, .leader_end = Offset(5)}, 0);
  EXPECT_EQ(s.high_watermark(), Offset(5));
  s.OnLeaderAppend(Offset(9));
  EXPECT_EQ(s.high_watermark(), Offset(9));
  // A lagging non-ISR follower does not hold it back.
  s.OnFollowerFetch(2, Offset(3), 1);
  s.OnLeaderAppend(Offset(12));
  EXPECT_EQ(s.high_watermark(), Offset(12));
}

TEST(LeaderReplicaState, LaggingFollowerLeavesTheIsrAfterTheLagTime) {
  auto s = ThreeReplicas(0);
  // Steady appends; 2 keeps fetching up to what the leader had at its previous fetch.
  int64_t t = 0;
  for (int i = 1; i <= 50; ++i) {
    t = i * 1000;
    s.OnLeaderAppend(Offset(100 + i * 10));
    s.OnFollowerFetch(2, Offset(100 + (i - 1) * 10), t);
  }
  // 3 stopped at the start.
  EXPECT_EQ(s.ShrinkCandidates(t, 30'000), std::vector<int32_t>{3});
  EXPECT_TRUE(s.ShrinkCandidates(20'000, 30'000).empty());  // not yet at 20 s
  s.SetIsr({1, 2});
  EXPECT_EQ(s.high_watermark(), Offset(100 + 49 * 10));  // only 1 and 2 count now
  EXPECT_TRUE(s.ShrinkCandidates(t, 30'000).empty());
}

TEST(LeaderReplicaState, FollowerRejoinsOnceItReachesTheHighWatermarkAndEpochStart) {
  LeaderReplicaState s({.self = 1,
                        .replicas = {1, 2, 3},
                        .isr = {1, 2},
                        .leader_end = Offset(200),
                        .high_watermark = Offset(150),
                        .epoch_start = Offset(180)},
                       0);
  s.OnFollowerFetch(2, Offset(200), 1);
  EXPECT_EQ(s.high_watermark(), Offset(200));
  s.OnFollowerFetch(3, Offset(170), 2);
  EXPECT_TRUE(s.ExpandCandidates().empty());  // below the high watermark and the epoch start
  s.OnFollowerFetch(3, Offset(200), 3);
  EXPECT_EQ(s.ExpandCandidates(), std::vector<int32_t>{3});
  s.SetIsr({1, 2, 3});
  EXPECT_TRUE(s.ExpandCandidates().empty());
}

TEST(LeaderReplicaState, AFollowerThatLeftRejoinsOnlyAfterAFreshFetch) {
  LeaderReplicaState s({.self = 1, .replicas = {1, 2, 3}, .isr = {1, 2, 3}}, 0);
  s.OnFollowerFetch(2, Offset(0), 1);
  s.OnFollowerFetch(3, Offset(0), 1);
  s.SetIsr({1, 2});  // 3 left (say, it shut down): its old fetch does not bring it back
  EXPECT_TRUE(s.ExpandCandidates().empty());
  s.OnFollowerFetch(3, Offset(0), 2);
  EXPECT_EQ(s.ExpandCandidates(), std::vector<int32_t>{3});
}

// Preferred leader election hands over only to a replica that fetched recently and reached
// the leader's end: one in the ISR but silent (paused, cut off) is not caught up.
TEST(LeaderReplicaState, CaughtUpMeansFetchingAndReachingTheEndRecently) {
  auto s = ThreeReplicas(0);
  EXPECT_FALSE(s.CaughtUp(2, 0, 2'000));  // in the ISR, but it has not fetched yet
  s.OnFollowerFetch(2, Offset(100), 1'000);
  EXPECT_TRUE(s.CaughtUp(2, 1'500, 2'000));
  s.OnLeaderAppend(Offset(130));
  s.OnFollowerFetch(2, Offset(110), 1'600);  // had reached the end as of its last fetch
  EXPECT_TRUE(s.CaughtUp(2, 1'600, 2'000));
  EXPECT_FALSE(s.CaughtUp(2, 3'700, 2'000));  // silent since: lagging
  s.OnFollowerFetch(2, Offset(130), 3'800);
  EXPECT_TRUE(s.CaughtUp(2, 3'800, 2'000));
  EXPECT_FALSE(s.CaughtUp(7, 3'800, 2'000));  // not a replica
}

TEST(LeaderReplicaState, AcksAllWaitsForTheIsrAndRefusesWhenItIsTooSmall) {
  auto s = ThreeReplicas(0);
  EXPECT_TRUE(s.EnoughReplicasToAppend(2));
  s.OnLeaderAppend(Offset(110));
  EXPECT_EQ(s.CheckAcksAll(Offset(110), 2), AcksAll::kWaiting);
  s.OnFollowerFetch(2, Offset(110), 1);
  EXPECT_EQ(s.CheckAcksAll(Offset(110), 2), AcksAll::kWaiting);  // 3 is in the ISR, behind
  s.SetIsr({1, 2});                                              // 3 was dropped
  EXPECT_EQ(s.CheckAcksAll(Offset(110), 2), AcksAll::kDone);
  s.SetIsr({1});
  EXPECT_FALSE(s.EnoughReplicasToAppend(2));
  s.OnLeaderAppend(Offset(120));
  EXPECT_EQ(s.CheckAcksAll(Offset(120), 2), AcksAll::kNotEnoughReplicas);  // after append
  EXPECT_EQ(s.CheckAcksAll(Offset(120), 1), AcksAll::kDone);
}

}  // namespace
}  // namespace strata
