/** Configuration the torture scenarios share with their child processes (child.ts loads nothing heavier). */
import type { PartitionOptions, TopicConfig } from '../../src/partition/index.js'

/** Topic `t` of the SIGKILL loop: small segments so that kills land in rolls, and retention deleting some. */
export const SIGKILL_TOPIC: TopicConfig = { partitions: 1, fsync: 'always', segmentBytes: 16 * 1024, retentionBytes: 192 * 1024 }
/** The same partition options as {@link SIGKILL_TOPIC}, for opening its partition directly. */
export const SIGKILL_PARTITION: PartitionOptions = { fsync: 'always', segmentBytes: 16 * 1024, retentionBytes: 192 * 1024 }
/** The compacted partition of the SIGKILL loop: small segments so that compaction has sealed ones to rewrite. */
export const SIGKILL_COMPACTED: PartitionOptions = { fsync: 'always', segmentBytes: 4096, cleanupPolicy: 'compact', compactionCheckIntervalMs: 50, minCleanableDirtyRatio: 0.2 }
/** Keys of the compacted partition: few, so that compaction drops most records. */
export const COMPACTED_KEYS = 40
/** The writer options of the exclusion race. */
export const RACE_PARTITION: PartitionOptions = { fsync: 'always', segmentBytes: 4096 }
