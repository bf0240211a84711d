/**
 * xxHash (xxhash-wasm): 32-bit for partitioning keys, 64-bit for message-id dedup and
 * compaction keys. The WebAssembly module loads once, asynchronously; `hashes()` awaits it.
 */
import xxhash from 'xxhash-wasm'

export interface Hashes {
  h32(bytes: Uint8Array): number
  h64(bytes: Uint8Array): bigint
}

let loading: Promise<Hashes> | undefined

export function hashes(): Promise<Hashes> {
  loading ??= xxhash().then((api) => ({
    h32: (bytes: Uint8Array) => api.h32Raw(bytes, 0) >>> 0,
    h64: (bytes: Uint8Array) => api.h64Raw(bytes, 0n),
  }))
  return loading
}
