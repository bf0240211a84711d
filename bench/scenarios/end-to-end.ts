/**
 * end-to-end: a Log with one topic of 4 partitions (fsync 'always'), one producer, and two
 * consumers of one group (2 partitions each) tailing it and committing every 1,000 records. First
 * the producer's maximum rate is measured (64 concurrent senders); then it sends at half that
 * rate, and every record's produce → consume latency is taken (a monotonic clock stamped into the
 * value when send() is called, read when the consumer yields the record).
 */
import path from 'node:path'
import { Log, type Consumer } from '../../src/seglog.js'
import { okRow, type Row } from '../lib/result.js'
import { atMostTarget, type Scenario, type ScenarioOutput } from '../lib/scenario.js'
import { formatCount, formatMs, KiB, nowMs, Samples, secondsSince } from '../lib/stats.js'

const PARTITIONS = 4
const COMMIT_EVERY = 1000

function stampedValue(): Buffer {
  const value = Buffer.alloc(KiB, 0x61)
  value.writeDoubleLE(nowMs(), 0)
  return value
}

export const endToEnd: Scenario = {
  name: 'end-to-end',
  workload: `${PARTITIONS} partitions, fsync 'always', 1 producer + 2 tailing consumers (one group) committing every ${COMMIT_EVERY}, 1 KiB records at half the producer's max rate`,
  metric: 'recordsPerSec',
  async run(ctx): Promise<ScenarioOutput> {
    const burstSeconds = ctx.quick ? 1.5 : 4
    const paceSeconds = ctx.quick ? 4 : 15
    const log = await Log.open(path.join(ctx.dir, 'log'))
    const consumers: Consumer[] = []
    try {
      await log.createTopic('e2e', { partitions: PARTITIONS, fsync: 'always' })
      const producer = log.producer()
      // 1. The producer's maximum rate: 64 senders, each awaiting its durable ack.
      let key = 0
      const burstStart = nowMs()
      let sent = 0
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (secondsSince(burstStart) < burstSeconds) {
            await producer.send('e2e', { key: String(key++), value: stampedValue() })
            sent++
          }
        }),
      )
      const maxRate = sent / secondsSince(burstStart)
      const rate = maxRate / 2
      ctx.log(`  max rate ${formatCount(maxRate)}/s; pacing at ${formatCount(rate)}/s`)
      // 2. Two consumers from the durable end; wait until they own the 4 partitions between them.
      for (let i = 0; i < 2; i++) consumers.push(log.consumer({ group: 'bench', topics: ['e2e'], from: 'latest', rebalanceIntervalMs: 500, pollIntervalMs: 20 }))
      const e2e = new Samples()
      let consumed = 0
      let stop = false
      const loops = consumers.map(async (c) => {
        let mine = 0
        for await (const msg of c) {
          if (msg.value !== null) e2e.add(nowMs() - msg.value.readDoubleLE(0))
          consumed++
          if (++mine % COMMIT_EVERY === 0) await c.commit(msg)
          if (stop) break
        }
      })
      const settleStart = nowMs()
      while (consumers.reduce((n, c) => n + c.assignment().length, 0) < PARTITIONS && secondsSince(settleStart) < 10) await new Promise((r) => setTimeout(r, 50))
      await new Promise((r) => setTimeout(r, 300))
      // 3. Paced sending: every millisecond, send what is due (sends in one tick share a batch).
      const acks = new Samples()
      const inFlight = new Set<Promise<void>>()
      let paced = 0
      const start = nowMs()
      while (secondsSince(start) < paceSeconds) {
        const due = Math.floor(secondsSince(start) * rate)
        while (paced < due) {
          const t = nowMs()
          const p = producer.send('e2e', { key: String(key++), value: stampedValue() }).then(() => acks.add(nowMs() - t))
          inFlight.add(p)
          void p.finally(() => inFlight.delete(p))
          paced++
        }
        await new Promise((r) => setTimeout(r, 1))
      }
      await Promise.all(inFlight)
      const sendSeconds = secondsSince(start)
      const drainStart = nowMs()
      while (consumed < paced && secondsSince(drainStart) < 10) await new Promise((r) => setTimeout(r, 10))
      stop = true
      await Promise.all(consumers.map((c) => c.close()))
      await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2000))])
      const rows: Row[] = [
        okRow({ system: 'seglog', role: 'seglog', label: `produce → consume, ${formatCount(rate)} records/s offered (half of max ${formatCount(maxRate)}/s)`, durability: "fsync 'always'", seconds: sendSeconds, records: consumed, bytes: consumed * KiB, latencyMs: e2e.latency() }),
        okRow({ system: 'seglog', role: 'seglog', label: 'Producer.send → durable ack, same run', durability: "fsync 'always'", seconds: sendSeconds, records: paced, bytes: paced * KiB, latencyMs: acks.latency() }),
        okRow({ system: 'seglog', role: 'seglog', label: `Producer.send max rate, 64 concurrent senders, ${PARTITIONS} partitions`, durability: "fsync 'always'", seconds: burstSeconds, records: sent, bytes: sent * KiB }),
      ]
      const p99 = rows[0]?.latencyMs?.p99
      return {
        rows,
        targets: [atMostTarget('p99 produce → consume ≤ 5 ms at half the max rate', p99, 5, (v) => `p99 ${formatMs(v)} (p50 ${formatMs(rows[0]?.latencyMs?.p50 ?? 0)}), ${consumed}/${paced} consumed`)],
        notes: ['no peer runs this scenario: it measures seglog tailing itself; the raw baseline is the fsync latency of group-commit'],
      }
    } finally {
      for (const c of consumers) await c.close().catch(() => {})
      await log.close()
    }
  },
}
