// Kafka protocol error codes (org.apache.kafka.common.protocol.Errors, Kafka 3.9.0).
//
//   response.error_code = static_cast<int16_t>(ErrorCode::kUnknownTopicOrPartition);
//   LOG_EVENT(Warn, "fetch_failed").Field("error", ErrorName(code));
//   if (IsRetriable(code)) ...
//
// The list below mirrors protocol/schema/error-codes.tsv (code, Kafka's name, whether the Java
// client retries it); tests/protocol/errors_test.cc checks the two against each other.
// Kafka error codes are produced in server/ only; this module just names them.
#pragma once

#include <cstdint>

namespace strata::protocol {

// X(code, enumerator, Kafka name, retriable)
#define STRATA_KAFKA_ERROR_CODES(X) \
  X(-1, kUnknownServerError, "UNKNOWN_SERVER_ERROR", false) \
  X(0, kNone, "NONE", false) \
  X(1, kOffsetOutOfRange, "OFFSET_OUT_OF_RANGE", false) \
  X(2, kCorruptMessage, "CORRUPT_MESSAGE", true) \
  X(3, kUnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true) \
  X(4, kInvalidFetchSize, "INVALID_FETCH_SIZE", false) \
  X(5, kLeaderNotAvailable, "LEADER_NOT_AVAILABLE", true) \
  X(6, kNotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true) \
  X(7, kRequestTimedOut, "REQUEST_TIMED_OUT", true) \
  X(8, kBrokerNotAvailable, "BROKER_NOT_AVAILABLE", false) \
  X(9, kReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", true) \
  X(10, kMessageTooLarge, "MESSAGE_TOO_LARGE", false) \
  X(11, kStaleControllerEpoch, "STALE_CONTROLLER_EPOCH", false) \
  X(12, kOffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", false) \
  X(13, kNetworkException, "NETWORK_EXCEPTION", true) \
  X(14, kCoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", true) \
  X(15, kCoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", true) \
  X(16, kNotCoordinator, "NOT_COORDINATOR", true) \
  X(17, kInvalidTopicException, "INVALID_TOPIC_EXCEPTION", false) \
  X(18, kRecordListTooLarge, "RECORD_LIST_TOO_LARGE", false) \
  X(19, kNotEnoughReplicas, "NOT_ENOUGH_REPLICAS", true) \
  X(20, kNotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true) \
  X(21, kInvalidRequiredAcks, "INVALID_REQUIRED_ACKS", false) \
  X(22, kIllegalGeneration, "ILLEGAL_GENERATION", false) \
  X(23, kInconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", false) \
  X(24, kInvalidGroupId, "INVALID_GROUP_ID", false) \
  X(25, kUnknownMemberId, "UNKNOWN_MEMBER_ID", false) \
  X(26, kInvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", false) \
  X(27, kRebalanceInProgress, "REBALANCE_IN_PROGRESS", false) \
  X(28, kInvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", false) \
  X(29, kTopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", false) \
  X(30, kGroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", false) \
  X(31, kClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", false) \
  X(32, kInvalidTimestamp, "INVALID_TIMESTAMP", false) \
  X(33, kUnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", false) \
  X(34, kIllegalSaslState, "ILLEGAL_SASL_STATE", false) \
  X(35, kUnsupportedVersion, "UNSUPPORTED_VERSION", false) \
  X(36, kTopicAlreadyExists, "TOPIC_ALREADY_EXISTS", false) \
  X(37, kInvalidPartitions, "INVALID_PARTITIONS", false) \
  X(38, kInvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", false) \
  X(39, kInvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", false) \
  X(40, kInvalidConfig, "INVALID_CONFIG", false) \
  X(41, kNotController, "NOT_CONTROLLER", true) \
  X(42, kInvalidRequest, "INVALID_REQUEST", false) \
  X(43, kUnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false) \
  X(44, kPolicyViolation, "POLICY_VIOLATION", false) \
  X(45, kOutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false) \
  X(46, kDuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", false) \
  X(47, kInvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", false) \
  X(48, kInvalidTxnState, "INVALID_TXN_STATE", false) \
  X(49, kInvalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", false) \
  X(50, kInvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", false) \
  X(51, kConcurrentTransactions, "CONCURRENT_TRANSACTIONS", true) \
  X(52, kTransactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", false) \
  X(53, kTransactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false) \
  X(54, kSecurityDisabled, "SECURITY_DISABLED", false) \
  X(55, kOperationNotAttempted, "OPERATION_NOT_ATTEMPTED", false) \
  X(56, kKafkaStorageError, "KAFKA_STORAGE_ERROR", true) \
  X(57, kLogDirNotFound, "LOG_DIR_NOT_FOUND", false) \
  X(58, kSaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", false) \
  X(59, kUnknownProducerId, "UNKNOWN_PRODUCER_ID", false) \
  X(60, kReassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", false) \
  X(61, kDelegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", false) \
  X(62, kDelegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", false) \
  X(63, kDelegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", false) \
  X(64, kDelegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false) \
  X(65, kDelegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false) \
  X(66, kDelegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", false) \
  X(67, kInvalidPrincipalType, "INVALID_PRINCIPAL_TYPE", false) \
  X(68, kNonEmptyGroup, "NON_EMPTY_GROUP", false) \
  X(69, kGroupIdNotFound, "GROUP_ID_NOT_FOUND", false) \
  X(70, kFetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", true) \
  X(71, kInvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", true) \
  X(72, kListenerNotFound, "LISTENER_NOT_FOUND", true) \
  X(73, kTopicDeletionDisabled, "TOPIC_DELETION_DISABLED", false) \
  X(74, kFencedLeaderEpoch, "FENCED_LEADER_EPOCH", true) \
  X(75, kUnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", true) \
  X(76, kUnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", false) \
  X(77, kStaleBrokerEpoch, "STALE_BROKER_EPOCH", false) \
  X(78, kOffsetNotAvailable, "OFFSET_NOT_AVAILABLE", true) \
  X(79, kMemberIdRequired, "MEMBER_ID_REQUIRED", false) \
  X(80, kPreferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", true) \
  X(81, kGroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", false) \
  X(82, kFencedInstanceId, "FENCED_INSTANCE_ID", false) \
  X(83, kEligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true) \
  X(84, kElectionNotNeeded, "ELECTION_NOT_NEEDED", true) \
  X(85, kNoReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", false) \
  X(86, kGroupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", false) \
  X(87, kInvalidRecord, "INVALID_RECORD", false) \
  X(88, kUnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", true) \
  X(89, kThrottlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", true) \
  X(90, kProducerFenced, "PRODUCER_FENCED", false) \
  X(91, kResourceNotFound, "RESOURCE_NOT_FOUND", false) \
  X(92, kDuplicateResource, "DUPLICATE_RESOURCE", false) \
  X(93, kUnacceptableCredential, "UNACCEPTABLE_CREDENTIAL", false) \
  X(94, kInconsistentVoterSet, "INCONSISTENT_VOTER_SET", false) \
  X(95, kInvalidUpdateVersion, "INVALID_UPDATE_VERSION", false) \
  X(96, kFeatureUpdateFailed, "FEATURE_UPDATE_FAILED", false) \
  X(97, kPrincipalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", false) \
  X(98, kSnapshotNotFound, "SNAPSHOT_NOT_FOUND", false) \
  X(99, kPositionOutOfRange, "POSITION_OUT_OF_RANGE", false) \
  X(100, kUnknownTopicId, "UNKNOWN_TOPIC_ID", true) \
  X(101, kDuplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", false) \
  X(102, kBrokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", false) \
  X(103, kInconsistentTopicId, "INCONSISTENT_TOPIC_ID", true) \
  X(104, kInconsistentClusterId, "INCONSISTENT_CLUSTER_ID", false) \
  X(105, kTransactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", false) \
  X(106, kFetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", true) \
  X(107, kIneligibleReplica, "INELIGIBLE_REPLICA", false) \
  X(108, kNewLeaderElected, "NEW_LEADER_ELECTED", false) \
  X(109, kOffsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", false) \
  X(110, kFencedMemberEpoch, "FENCED_MEMBER_EPOCH", false) \
  X(111, kUnreleasedInstanceId, "UNRELEASED_INSTANCE_ID", false) \
  X(112, kUnsupportedAssignor, "UNSUPPORTED_ASSIGNOR", false) \
  X(113, kStaleMemberEpoch, "STALE_MEMBER_EPOCH", false) \
  X(114, kMismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", false) \
  X(115, kUnsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", false) \
  X(116, kUnknownControllerId, "UNKNOWN_CONTROLLER_ID", false) \
  X(117, kUnknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", false) \
  X(118, kTelemetryTooLarge, "TELEMETRY_TOO_LARGE", false) \
  X(119, kInvalidRegistration, "INVALID_REGISTRATION", false) \
  X(120, kTransactionAbortable, "TRANSACTION_ABORTABLE", false) \
  X(121, kInvalidRecordState, "INVALID_RECORD_STATE", false) \
  X(122, kShareSessionNotFound, "SHARE_SESSION_NOT_FOUND", true) \
  X(123, kInvalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", true) \
  X(124, kFencedStateEpoch, "FENCED_STATE_EPOCH", false) \
  X(125, kInvalidVoterKey, "INVALID_VOTER_KEY", false) \
  X(126, kDuplicateVoter, "DUPLICATE_VOTER", false) \
  X(127, kVoterNotFound, "VOTER_NOT_FOUND", false)

enum class ErrorCode : int16_t {
#define STRATA_KAFKA_ERROR_ENUM_(code, enumerator, name, retriable) enumerator = code,
  STRATA_KAFKA_ERROR_CODES(STRATA_KAFKA_ERROR_ENUM_)
#undef STRATA_KAFKA_ERROR_ENUM_
};

// Kafka's name ("UNKNOWN_TOPIC_OR_PARTITION"); "UNKNOWN_ERROR_CODE" for a code not listed.
const char* ErrorName(ErrorCode code);
// True if Kafka's Java client treats the error as retriable (a RetriableException).
bool IsRetriable(ErrorCode code);

}  // namespace strata::protocol
