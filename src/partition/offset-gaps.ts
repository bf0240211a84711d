/**
 * Offsets a partition is known to be missing: `offset-gaps`, one `from to` range per line,
 * written (atomically) when repair drops damaged batches. In a partition whose offsets must be
 * contiguous (cleanupPolicy 'delete'), a gap between batches is damage (a flipped bit in a
 * baseOffset, which the CRC does not cover) unless it is listed here.
 */
import fs from 'node:fs'
import path from 'node:path'
import * as io from '../file-io.js'
import { allowGaps, type GapRule } from '../segment/index.js'

export const OFFSET_GAPS_FILE = 'offset-gaps'
const GAPS_MAX = 100_000

export function readKnownGaps(dir: string): Array<[number, number]> {
  let text: string
  try {
    text = fs.readFileSync(path.join(dir, OFFSET_GAPS_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const gaps: Array<[number, number]> = []
  for (const line of text.split('\n').slice(0, GAPS_MAX)) {
    const m = /^([0-9]{1,16}) ([0-9]{1,16})$/.exec(line)
    if (m !== null) gaps.push([Number(m[1]), Number(m[2])])
  }
  return gaps
}

export function addKnownGap(dir: string, from: number, to: number, mode: number): void {
  if (to < from) return
  const gaps = [...readKnownGaps(dir), [from, to] as [number, number]]
  io.writeFileAtomic(dir, OFFSET_GAPS_FILE, gaps.map(([a, b]) => `${a} ${b}\n`).join(''), mode)
}

/**
 * The gap rule of a partition (anything goes when compacted, else only the recorded gaps), and
 * the way repair records a new gap: on disk, and at once in the rule, since recovery rescans
 * the repaired segment with it.
 */
export function gapRegistry(dir: string, compacted: boolean, mode: number): { gaps: GapRule; recordGap: (from: number, to: number) => void } {
  const known = readKnownGaps(dir)
  return {
    gaps: compacted ? allowGaps : (from, to) => known.some(([a, b]) => a <= from && to <= b),
    recordGap: (from, to) => {
      if (to < from) return
      addKnownGap(dir, from, to, mode)
      known.push([from, to])
    },
  }
}
