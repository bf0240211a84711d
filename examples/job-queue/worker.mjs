// A worker of the job queue: a member of the consumer group `workers`, consuming `jobs` and
// `jobs-retry`. For each job: process it (a short random delay), then commit it. About 5% of jobs
// fail on their first try; those are handed to the web producer (over IPC, through run.mjs) to be
// appended to `jobs-retry` with the next attempt number, and the failed try is committed only
// once the retry is durable. Processing before committing is what makes delivery at-least-once:
// a worker killed between the two leaves the job uncommitted, and the partition's next owner
// runs it again.
//
//   node worker.mjs <root> <name>      (started by run.mjs, with an IPC channel)
import { Log } from '../../dist/src/seglog.js'

const [root, name] = process.argv.slice(2)
const FAILURE_RATE = 0.05

/** Send a message to run.mjs; resolves once it is written to the channel (a SIGKILL after that loses nothing). */
const tell = (message) => new Promise((resolve, reject) => process.send({ worker: name, ...message }, (err) => (err ? reject(err) : resolve())))

/** Retry requests waiting for the web producer's acknowledgement, by request id. */
const waiting = new Map()
let requests = 0
process.on('message', (message) => {
  if (message.type === 'retried') waiting.get(message.reqId)?.()
})
const enqueueRetry = (job, attempt) =>
  new Promise((resolve) => {
    const reqId = `${name}:${++requests}`
    waiting.set(reqId, () => {
      waiting.delete(reqId)
      resolve()
    })
    void tell({ type: 'retry', reqId, job, attempt })
  })

const log = await Log.open(root)
const consumer = log.consumer({ group: 'workers', topics: ['jobs', 'jobs-retry'], from: 'earliest', rebalanceIntervalMs: 200 })
const names = (tps) => tps.map((tp) => `${tp.topic}/${tp.partition}`)
consumer.on('assigned', (tps) => void tell({ type: 'assigned', partitions: names(tps) }))
consumer.on('revoked', (tps) => void tell({ type: 'revoked', partitions: names(tps) }))
// A clean stop (SIGTERM) finishes the job in hand, commits it, then leaves the group.
let busy = false
let stopping = false
process.once('SIGTERM', () => {
  stopping = true
  if (!busy) void consumer.close() // ends a wait for new jobs
})

for await (const msg of consumer) {
  busy = true
  const job = JSON.parse(msg.value.toString('utf8'))
  const attempt = Number(msg.headers.find(([key]) => key === 'attempt')?.[1]?.toString() ?? '1')
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 2)) // the work
  if (attempt === 1 && Math.random() < FAILURE_RATE) {
    await enqueueRetry(job, attempt + 1) // durable in jobs-retry before this try is committed
  } else {
    await tell({ type: 'done', id: job.id, attempt, topic: msg.topic, partition: msg.partition, offset: msg.offset })
  }
  await consumer.commit(msg)
  busy = false
  if (stopping) break
}
await consumer.close()
await log.close()
process.disconnect()
