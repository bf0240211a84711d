export * from './record-batch.js'
export { crc32c } from './crc32c.js'
export { scanBatches, findNextValidBatch, type ScanStep, type ScannedBatch, type InvalidBytes, type ScanOptions } from './batch-scanner.js'
export { Segment, allowGaps, type GapRule, segmentName, parseSegmentName, LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, type SegmentOptions, type SegmentScan, type BatchLocation } from './segment.js'
