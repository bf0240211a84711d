/**
 * Redis Streams (XADD) with the append-only file, through the `redis` client. With
 * `appendfsync always` Redis fsyncs the AOF before answering the commands of one event-loop
 * turn, so concurrent clients share fsyncs (group commit); `everysec` fsyncs once a second.
 * Commands sent in the same tick are pipelined by the client.
 */
import { createClient } from 'redis'

/** The part of the client used here (the full generic type does not survive exactOptionalPropertyTypes). */
interface Client {
  sendCommand(args: Array<string | Buffer>): Promise<unknown>
  quit(): Promise<unknown>
}

export class RedisPeer {
  #client: Client
  #key: string

  private constructor(client: Client, key: string) {
    this.#client = client
    this.#key = key
  }

  static async open(port: number, key: string): Promise<RedisPeer> {
    const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } })
    client.on('error', () => {}) // surfaced by the failing command instead
    await client.connect()
    return new RedisPeer(client as unknown as Client, key)
  }

  /** XADD every value, pipelined, and wait for every reply. */
  async addBatch(values: readonly Buffer[]): Promise<void> {
    await Promise.all(values.map((v) => this.#client.sendCommand(['XADD', this.#key, '*', 'v', v])))
  }

  async add(value: Buffer): Promise<void> {
    await this.#client.sendCommand(['XADD', this.#key, '*', 'v', value])
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => {})
  }
}
