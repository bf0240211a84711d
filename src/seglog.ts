/**
 * seglog: an embeddable, durable, Kafka-style append-only log for Node.js.
 *
 * @example
 * ```ts
 * import { Partition } from 'seglog'
 * const p = await Partition.open('./data/events/0')
 * await p.append([{ key: 'user-7', value: 'signed up' }])
 * for await (const r of p.records({ from: 0 })) console.log(r.offset, r.value?.toString())
 * await p.close()
 * ```
 */
export * from './errors.js'
export { Partition, DEFAULTS as PARTITION_DEFAULTS } from './partition/index.js'
export type { AppendResult, AppendOptions, ReadOptions, ReadResult, RecordsOptions, PartitionOptions, FsyncPolicy, RecoveryReport, RepairedRange } from './partition/index.js'
export type { RecordInput, LogRecord, RecordHeader, Bytes, HeadersInput } from './segment/index.js'
export { setFaultInjector, errnoError, type FaultInjector, type IoOp } from './file-io.js'
export { Log, type LogOptions, type TopicDescription, type PartitionDescription, type GroupDescription, type GroupPartitionLag } from './log.js'
export { Producer, Topic, type ProducerOptions, type Message, type SendResult, type TopicConfig } from './partition/index.js'
export { Consumer, type ConsumerOptions, type ConsumerMessage, type SeekRequest } from './consumer-offsets/index.js'
