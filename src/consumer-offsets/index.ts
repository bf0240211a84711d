/**
 * Consumers, consumer-group membership (flock ownership) and committed offsets (stored as a log).
 * The only file other folders import from this one.
 */
export { Consumer, type ConsumerContext, type ConsumerTopic, type ConsumerMessage, type ConsumerEvents, type SeekRequest } from './consumer.js'
export { resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions } from './consumer-options.js'
export type { OffsetReset, SeekTarget, StartFrom } from './assigned-partition.js'
export { OffsetStore, GROUPS_DIR, METADATA_LENGTH_MAX, groupDir, offsetStoreDir, type CommittedOffset, type OffsetStoreOptions, type CommitOptions } from './offset-store.js'
export { GroupMember, MEMBERS_DIR, assignPartitions, type TopicPartition, type TopicPartitions, type RebalanceResult, type MembershipOptions } from './group-membership.js'
