/**
 * NATS JetStream (nats-server's file store) through the `nats` client. A publish resolves with the
 * server's ack, once the message is in the stream's file store. nats-server 2.9 has no option to
 * fsync each message (`sync_interval: always` came in 2.10): its file store is flushed to the OS
 * at once and fsync'd every 2 minutes, so its durability is like seglog's fsync 'never'.
 */
import { connect, StorageType, type JetStreamClient, type NatsConnection } from 'nats'

export class NatsPeer {
  #nc: NatsConnection
  #js: JetStreamClient
  #subject: string

  private constructor(nc: NatsConnection, js: JetStreamClient, subject: string) {
    this.#nc = nc
    this.#js = js
    this.#subject = subject
  }

  static async open(port: number, stream: string): Promise<NatsPeer> {
    const nc = await connect({ servers: `127.0.0.1:${port}` })
    const jsm = await nc.jetstreamManager()
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: StorageType.File })
    return new NatsPeer(nc, nc.jetstream(), `${stream}.records`)
  }

  /** Publish every value and wait for all acks (one "batch" in flight). */
  async publishBatch(values: readonly Uint8Array[]): Promise<void> {
    await Promise.all(values.map((v) => this.#js.publish(this.#subject, v)))
  }

  async publish(value: Uint8Array): Promise<void> {
    await this.#js.publish(this.#subject, value)
  }

  async close(): Promise<void> {
    await this.#nc.close()
  }
}
