/**
 * recovery: open after an unclean shutdown with a torn tail in a 2 GiB log (the active segment is
 * validated, its indexes rebuilt and the tail cut), beside one read + CRC-32C pass over that
 * segment; and open after a clean shutdown of a partition of 1,000 segments.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Partition } from '../../src/seglog.js'
import { okRow, type Row } from '../lib/result.js'
import { atMostTarget, ratioTarget, type Scenario, type ScenarioOutput } from '../lib/scenario.js'
import { formatMs, GiB, KiB, MiB, nowMs, secondsSince, syncDisk } from '../lib/stats.js'
import { batchesFor, fillPartition, framedBatch, logFiles, makeRecords, readFiles } from '../lib/workload.js'

const CLEAN_SHUTDOWN_FILE = 'clean-shutdown'

export const recoveryScenario: Scenario = {
  name: 'recovery',
  workload: 'open after a torn tail in a 2 GiB log (1 GiB segments); open after a clean shutdown with 1,000 segments',
  metric: 'ms',
  async run(ctx): Promise<ScenarioOutput> {
    const records = makeRecords(64, KiB)
    const framed = framedBatch(records)
    const segmentBytes = ctx.quick ? 64 * MiB : GiB
    const dir = path.join(ctx.dir, 'torn')
    ctx.log('  writing the log')
    await fillPartition(dir, records, batchesFor(ctx.quick ? 128 * MiB : 2 * GiB, framed.length), { segmentBytes })
    // An unclean shutdown: no clean-shutdown marker, and half a batch at the end of the active segment.
    fs.rmSync(path.join(dir, CLEAN_SHUTDOWN_FILE), { force: true })
    const active = logFiles(dir).at(-1) as string
    fs.appendFileSync(active, framed.subarray(0, Math.floor(framed.length / 2)))
    syncDisk()
    readFiles(logFiles(dir), false) // warm, as after a process crash
    const activeBytes = fs.statSync(active).size
    const crcStart = nowMs()
    readFiles([active], true)
    const crcMs = secondsSince(crcStart) * 1000
    const raw = okRow({ system: 'raw', role: 'baseline', label: `readSync + CRC-32C of the active segment (${(activeBytes / MiB).toFixed(0)} MiB)`, durability: 'read', seconds: crcMs / 1000, bytes: activeBytes, extra: { ms: crcMs } })
    const openStart = nowMs()
    const p = await Partition.open(dir, { fsync: 'never', segmentBytes })
    const openMs = secondsSince(openStart) * 1000
    const report = p.recovery
    await p.close()
    const unclean = okRow({
      system: 'seglog',
      role: 'seglog',
      label: `Partition.open after a torn tail, ${logFiles(dir).length} segments, ${((logFiles(dir).length - 1) * segmentBytes) / MiB + activeBytes / MiB | 0} MiB`,
      durability: 'recovery',
      seconds: openMs / 1000,
      bytes: activeBytes,
      extra: { ms: openMs, truncatedBytes: report.truncatedBytes ?? 0 },
    })
    // 1,000 segments, closed cleanly.
    const manyDir = path.join(ctx.dir, 'many')
    const small = makeRecords(16, KiB)
    // Each roll fsyncs the old segment, the folder and two checkpoints: a quick run makes fewer.
    const wanted = ctx.quick ? 150 : 1000
    ctx.log(`  writing ${wanted} segments`)
    await fillPartition(manyDir, small, wanted, { segmentBytes: framedBatch(small).length })
    const segments = logFiles(manyDir).length
    syncDisk()
    const cleanStart = nowMs()
    const q = await Partition.open(manyDir, { fsync: 'never', segmentBytes: framedBatch(small).length })
    const cleanMs = secondsSince(cleanStart) * 1000
    const wasClean = q.recovery.clean
    const closeStart = nowMs()
    await q.close()
    const closeMs = secondsSince(closeStart) * 1000
    const cleanRow = okRow({ system: 'seglog', role: 'seglog', label: `Partition.open after a clean shutdown, ${segments} segments${wasClean ? '' : ' (NOT reported clean)'}`, durability: 'clean open', seconds: cleanMs / 1000, extra: { ms: cleanMs, closeMs, segments } })
    const rows: Row[] = [unclean, raw, cleanRow]
    return {
      rows,
      targets: [
        ratioTarget('unclean open ≤ 1.5 × one CRC scan of the active segment', 1.5 * crcMs, openMs, 1, () => `${formatMs(openMs)} = ${(openMs / crcMs).toFixed(2)} × the scan's ${formatMs(crcMs)}; cut ${report.truncatedBytes ?? 0} B`),
        atMostTarget(`clean open with ${wanted === 1000 ? '1,000' : `${segments} (quick run; full: 1,000)`} segments ≤ 200 ms`, cleanMs, 200, (v) => `${formatMs(v)} for ${segments} segments`),
      ],
      notes: ['no peer: recovery is compared with the raw read + CRC pass it cannot avoid'],
    }
  },
}
