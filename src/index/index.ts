/**
 * The index folder: a segment's sparse, memory-mapped offset and time indexes. Other folders import
 * only from here. The indexes know nothing of batches: they map numbers to numbers.
 */
export type { IndexOpenOptions } from './mapped-file.js'
export { OffsetIndex, OFFSET_INDEX_ENTRY_BYTES, MAX_RELATIVE_OFFSET, MAX_INDEX_POSITION, type OffsetPosition } from './offset-index.js'
export { TimeIndex, TIME_INDEX_ENTRY_BYTES, type TimestampOffset } from './time-index.js'
