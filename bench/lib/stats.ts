/** Timing and latency helpers shared by the scenarios. */
import { execFileSync } from 'node:child_process'
import type { Latency } from './result.js'

export const KiB = 1024
export const MiB = 1024 * 1024
export const GiB = 1024 * MiB

/** A monotonic clock in milliseconds (fractional). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Seconds since `startMs` (from {@link nowMs}). */
export function secondsSince(startMs: number): number {
  return (nowMs() - startMs) / 1000
}

/**
 * Flush every dirty page to disk, so a phase does not pay for the writeback of the one before
 * it. Measured phases start after this.
 */
export function syncDisk(): void {
  try {
    execFileSync('sync')
  } catch {
    // no sync binary: the next phase may see some writeback; nothing else to do
  }
}

/** Latency samples (ms) in a growable typed array: no per-sample allocation. */
export class Samples {
  #values = new Float64Array(1024)
  #count = 0

  add(ms: number): void {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2)
      bigger.set(this.#values)
      this.#values = bigger
    }
    this.#values[this.#count++] = ms
  }

  get count(): number {
    return this.#count
  }

  latency(): Latency {
    const sorted = this.#values.slice(0, this.#count).sort()
    const n = sorted.length
    const at = (q: number): number => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.floor(q * n))] as number))
    let sum = 0
    for (let i = 0; i < n; i++) sum += sorted[i] as number
    return { samples: n, mean: n === 0 ? 0 : sum / n, p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: n === 0 ? 0 : (sorted[n - 1] as number) }
  }
}

/** Run `fn` until `count` runs or `seconds` passed (whichever first); returns the runs made. */
export async function loopFor(count: number, seconds: number, fn: (i: number) => Promise<void> | void): Promise<number> {
  const deadline = nowMs() + seconds * 1000
  let i = 0
  while (i < count) {
    await fn(i)
    i++
    if ((i & 7) === 0 && nowMs() > deadline) break
  }
  return i
}

export function formatBytesPerSec(bps: number): string {
  return bps >= 1e9 ? `${(bps / 1e9).toFixed(2)} GB/s` : `${(bps / 1e6).toFixed(bps >= 1e8 ? 0 : 1)} MB/s`
}

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)} k`
  return n.toFixed(n >= 100 ? 0 : 1)
}

export function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : ms < 0.1 ? 1 : 0)} µs`
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}
