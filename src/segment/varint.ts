/**
 * Zigzag variable-length integers, as Kafka's records use them (protobuf `sint32` / `sint64`).
 *
 * A value is zigzag-mapped to an unsigned one (0, -1, 1, -2 … → 0, 1, 2, 3 …) and written 7 bits
 * per byte, least significant group first, the high bit set on every byte but the last.
 * `varint` (32-bit) takes at most 5 bytes, `varlong` (64-bit) at most 10. JS numbers carry
 * varlongs exactly up to ±2^53, which covers every millisecond timestamp delta.
 */

export const VARINT_BYTES_MAX = 5
export const VARLONG_BYTES_MAX = 10

/** Bytes needed to write `value` as a zigzag varint/varlong. */
export function sizeOfVarlong(value: number): number {
  let zz = value >= 0 ? value * 2 : -value * 2 - 1
  let size = 1
  while (zz >= 128) {
    zz = Math.floor(zz / 128)
    size++
  }
  return size
}

/** Write `value` zigzag-encoded at `pos`; returns the position after it. */
export function writeVarlong(buf: Buffer, pos: number, value: number): number {
  let zz = value >= 0 ? value * 2 : -value * 2 - 1
  while (zz >= 128) {
    buf[pos++] = (zz % 128) | 128
    zz = Math.floor(zz / 128)
  }
  buf[pos++] = zz
  return pos
}

/** The result of a varint read: the value and the position after it; `next` is -1 when malformed. */
export interface VarintRead {
  value: number
  next: number
}

/**
 * Read a zigzag varint of at most `bytesMax` bytes at `pos`, not reading at or past `end`.
 * Returns `next = -1` when the bytes run out or the varint is longer than allowed: the caller
 * raises the corruption error, because only it knows the file and position.
 */
export function readVarlong(buf: Buffer, pos: number, end: number, out: VarintRead, bytesMax = VARLONG_BYTES_MAX): VarintRead {
  let zz = 0
  let scale = 1
  for (let i = 0; i < bytesMax; i++) {
    if (pos >= end) break
    const b = buf[pos++] as number
    zz += (b & 127) * scale
    if (b < 128) {
      out.value = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2
      out.next = pos
      return out
    }
    scale *= 128
  }
  out.value = 0
  out.next = -1
  return out
}
