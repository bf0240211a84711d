/** A seeded PRNG for the torture scenarios (kept apart so that child processes load nothing else). */

/** mulberry32: small, fast, seeded; a failing run is replayed with the same seed. */
export class Random {
  #s: number
  constructor(seed: number) {
    this.#s = seed | 0
  }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) | 0
    let t = Math.imul(this.#s ^ (this.#s >>> 15), 1 | this.#s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256)
    return out
  }
}
