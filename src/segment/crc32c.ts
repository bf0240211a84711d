/**
 * CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2. One call per batch, never per
 * record. Returned unsigned, as stored in the batch header.
 */
import crc from 'crc-32/crc32c.js'

export function crc32c(bytes: Uint8Array): number {
  return crc.buf(bytes) >>> 0
}
