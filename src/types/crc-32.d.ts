declare module 'crc-32/crc32c.js' {
  const crc32c: {
    /** CRC-32C (Castagnoli) of `data`, as a signed 32-bit integer. */
    buf(data: Uint8Array, seed?: number): number
  }
  export default crc32c
}
