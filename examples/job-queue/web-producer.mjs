// The "web" side of the job queue: a small HTTP server on 127.0.0.1 that enqueues one job per
// `POST /jobs` and answers 202 only once the job is durable in the log. It is also the one
// process that appends to `jobs-retry`: workers hand it failed jobs over IPC (through run.mjs),
// and it acknowledges each retry once it is durable, before the worker commits the failed try.
//
// Why route retries here: every partition has one writer process at a time (a flock; a second
// writer gets ERR_LOCKED). Workers come and go and the group moves partitions between them, so
// a worker cannot keep a `jobs-retry` partition of its own; this process lives as long as the
// queue and already writes `jobs`, so making it the writer of `jobs-retry` too costs one message.
//
//   node web-producer.mjs <root>      (started by run.mjs, with an IPC channel)
import http from 'node:http'
import { Log } from '../../dist/src/seglog.js'

const [root] = process.argv.slice(2)
const log = await Log.open(root)
const producer = log.producer()

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/jobs') {
    res.writeHead(404).end()
    return
  }
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', async () => {
    try {
      const job = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      job.enqueuedAt = Date.now()
      // The key places all tries of a job in one partition; the header counts the tries.
      const { partition, offset } = await producer.send('jobs', { key: job.id, value: JSON.stringify(job), headers: { attempt: '1' } })
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ partition, offset }))
    } catch (err) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end(String(err?.message ?? err))
    }
  })
})

process.on('message', async (message) => {
  if (message.type === 'retry') {
    const { job, attempt, reqId } = message
    await producer.send('jobs-retry', { key: job.id, value: JSON.stringify(job), headers: { attempt: String(attempt) } })
    process.send({ type: 'retried', reqId })
  } else if (message.type === 'stop') {
    server.close()
    await producer.close()
    await log.close()
    process.disconnect()
  }
})

server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }))
