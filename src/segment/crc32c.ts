/**
 * CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2. One call per batch, never per
 * record. Returned unsigned, as stored in the batch header.
 *
 * Two implementations behind one function, chosen by size (measured in bench/micro.ts on the
 * development machine, Node 20):
 * - `@node-rs/crc32` (native, hardware CRC instructions): about 2.6-3.3 GB/s on 64 KiB-1 MiB,
 *   but each call crosses into native code for about 0.25 µs;
 * - `crc-32` (pure JS, slicing tables): about 0.8-1 GB/s, with no call overhead.
 * The native one wins from about 256 bytes up, which is every batch of more than a couple of
 * small records; below that the JS one is faster. When the native module cannot load (no
 * prebuilt binary for this platform: it comes through npm optional dependencies), every call
 * uses `crc-32`, which gives the same results.
 */
import { createRequire } from 'node:module'
import crc from 'crc-32/crc32c.js'

/** Below this many bytes the JS implementation is faster than the native call. */
const NATIVE_BYTES_MIN = 256

type NativeCrc32c = (input: Uint8Array, initialState?: number) => number

function loadNative(): NativeCrc32c | undefined {
  if (process.env.SEGLOG_CRC32C === 'js') return undefined
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: unknown }
    if (typeof mod.crc32c !== 'function') return undefined
    const fn = mod.crc32c as NativeCrc32c
    // Known answer ("123456789" → 0xe3069283): a binding that loads but computes something else is not used.
    return fn(Buffer.from('123456789')) >>> 0 === 0xe3069283 ? fn : undefined
  } catch {
    return undefined
  }
}

const native = loadNative()

/** Which implementation serves batches of 256 bytes and more: `'native'` or `'js'`. */
export const crc32cImplementation: 'native' | 'js' = native === undefined ? 'js' : 'native'

export function crc32c(bytes: Uint8Array): number {
  if (native !== undefined && bytes.length >= NATIVE_BYTES_MIN) return native(bytes) >>> 0
  return crc.buf(bytes) >>> 0
}

/** The pure-JS CRC-32C alone (the fallback), for benchmarks and tests. */
export function crc32cJs(bytes: Uint8Array): number {
  return crc.buf(bytes) >>> 0
}
