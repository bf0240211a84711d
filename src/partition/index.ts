export { Partition, type AppendResult, type AppendOptions, type ReadOptions, type ReadResult, type RecordsOptions } from './partition.js'
export { resolveOptions, DEFAULTS, type PartitionOptions, type FsyncPolicy, type ResolvedOptions } from './options.js'
export type { RecoveryReport, RepairedRange } from './recovery.js'
