// RecordBatch v2 (magic 2): the Kafka wire format, which is also Strata's on-disk format.
// Prose, byte diagram and worked example: docs/formats/record-batch.md.
//
//  offset size field                   notes
//   0     8   baseOffset   int64       assigned by the leader (outside the CRC)
//   8     4   batchLength  int32       bytes after this field: batch size = batchLength + 12
//  12     4   partitionLeaderEpoch     written by the leader (outside the CRC)
//  16     1   magic        int8        2
//  17     4   crc          uint32      CRC-32C of bytes [21, end of batch)
//  21     2   attributes   int16       codec 0-2, timestampType 3, transactional 4, control 5,
//                                      deleteHorizon 6
//  23     4   lastOffsetDelta int32
//  27     8   baseTimestamp int64
//  35     8   maxTimestamp  int64
//  43     8   producerId    int64
//  51     2   producerEpoch int16
//  53     4   baseSequence  int32
//  57     4   recordsCount  int32
//  61     …   records (plain, or one compressed stream)
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::batch_format {

inline constexpr size_t kBaseOffsetOffset = 0;
inline constexpr size_t kBatchLengthOffset = 8;
inline constexpr size_t kPartitionLeaderEpochOffset = 12;
inline constexpr size_t kMagicOffset = 16;
inline constexpr size_t kCrcOffset = 17;
inline constexpr size_t kAttributesOffset = 21;
inline constexpr size_t kLastOffsetDeltaOffset = 23;
inline constexpr size_t kBaseTimestampOffset = 27;
inline constexpr size_t kMaxTimestampOffset = 35;
inline constexpr size_t kProducerIdOffset = 43;
inline constexpr size_t kProducerEpochOffset = 51;
inline constexpr size_t kBaseSequenceOffset = 53;
inline constexpr size_t kRecordsCountOffset = 57;
inline constexpr size_t kRecordsOffset = 61;
inline constexpr size_t kHeaderSize = kRecordsOffset;

// The fields before batchLength's end: what a scanner must read to find the next batch.
inline constexpr size_t kLogOverhead = kBatchLengthOffset + 4;
// What a scanner reads to learn a batch's offsets and size without the CRC.
inline constexpr size_t kScanHeaderSize = kLastOffsetDeltaOffset + 4;
// The CRC covers from the attributes to the end of the batch.
inline constexpr size_t kCrcStart = kAttributesOffset;

inline constexpr int8_t kMagic = 2;

inline constexpr uint16_t kCompressionMask = 0x07;
inline constexpr uint16_t kTimestampTypeBit = 0x08;
inline constexpr uint16_t kTransactionalBit = 0x10;
inline constexpr uint16_t kControlBit = 0x20;
inline constexpr uint16_t kDeleteHorizonBit = 0x40;
inline constexpr uint16_t kKnownAttributeBits = 0x7f;

inline constexpr int64_t kNoProducerId = -1;
inline constexpr int16_t kNoProducerEpoch = -1;
inline constexpr int32_t kNoSequence = -1;

static_assert(kHeaderSize == 61, "RecordBatch v2 header is 61 bytes");
static_assert(kScanHeaderSize == 27);

}  // namespace strata::batch_format
