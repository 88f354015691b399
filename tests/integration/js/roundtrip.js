// KafkaJS 2.2.4 against a tributary broker, driven by tests/integration/test_kafkajs.py.
//
//   node roundtrip.js produce '{"bootstrap": "127.0.0.1:9092", "topic": "t", "partitions": 3,
//                               "perCodec": 100, "codecs": ["none", "gzip", ...]}'
//     Admin: creates the topic (and tries again, which must say it exists), lists topics and
//     reads the topic's metadata. Producer: one per codec, sends perCodec deterministic records
//     with keys, headers and explicit partitions. Admin: fetchTopicOffsets (ListOffsets).
//     Prints {ok, created, createdAgain, topics, metadata, offsets, records} where records are
//     in send order with the partition and offset the broker gave each.
//
//   node roundtrip.js consume '{"bootstrap": ..., "topic": ..., "count": N, "groupId": "g",
//                               "timeoutMs": 30000}'
//     Reads N records with a KafkaJS consumer, which always uses a consumer group (KafkaJS has
//     no assign()), and prints {ok, records}.
//
//   node roundtrip.js transaction '{"bootstrap": ..., "topic": ...}'
//     Starts a transactional producer and a transaction; prints {ok, failedAfterMs, error}
//     with ok true iff it failed (transactions are not supported) and how fast it did.
//
// Records are printed as {p, o, k, v, h, ts}: keys, values and header values are base64 (null
// stays null), h is [[name, value], ...] in wire order, offsets and timestamps are strings.
// The result is one JSON line on stdout; KafkaJS logs go to stderr. Exit code 0 iff ok.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const lz4js = require('lz4js')
const { ZstdCodec } = require('zstd-codec')

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP, // built into KafkaJS (zlib)
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
}
const SEND_CHUNK = 500

// KafkaJS ships gzip only; the others are plugged in as codecs. All three are pure JavaScript
// (zstd-codec is zstd compiled to asm.js/wasm by Emscripten), so nothing is compiled natively.
async function registerCodecs() {
  CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
  CompressionCodecs[CompressionTypes.LZ4] = () => ({
    compress: async encoder => Buffer.from(lz4js.compress(encoder.buffer)),
    decompress: async buffer => Buffer.from(lz4js.decompress(buffer)),
  })
  const zstd = await new Promise(resolve => ZstdCodec.run(z => resolve(new z.Streaming())))
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: async encoder => Buffer.from(zstd.compress(encoder.buffer, 3)),
    decompress: async buffer => Buffer.from(zstd.decompress(buffer)),
  })
}

const toStderr = () => ({ namespace, label, log }) => {
  process.stderr.write(`kafkajs ${label} [${namespace}] ${JSON.stringify(log)}\n`)
}

function client(opts) {
  return new Kafka({
    clientId: 'tributary-kafkajs',
    brokers: [opts.bootstrap],
    logLevel: logLevel.WARN,
    logCreator: toStderr,
    retry: { retries: 5 },
  })
}

const b64 = x => (x === null || x === undefined ? null : Buffer.from(x).toString('base64'))

// A deterministic record. KafkaJS cannot send a header with a null value (it measures every
// header value with Buffer.byteLength, which throws on null), so there are none here.
function makeRecord(seq, partitions, baseTs) {
  const k = seq % 10
  const key = k === 0 ? null : k === 1 ? '' : k === 2 ? Buffer.from([seq & 255, 0, 255, 128])
    : `key-${seq}`
  const v = seq % 20
  let value
  if (v === 3) {
    value = null
  } else if (v === 5) {
    value = ''
  } else {
    const size = seq % 997 === 0 ? 70000 : [1, 8, 50, 200, 1000, 3000][seq % 6]
    const text = `${seq}:kafkajs-value;`
    value = Buffer.from(text.repeat(Math.ceil(size / text.length)).slice(0, size))
    if (size > 50) value[seq % size] = 0xff
  }
  const h = seq % 4
  const headers = h === 0 ? undefined
    : h === 1 ? { 'trace-id': `${seq}` }
    : h === 2 ? { dup: ['first', 'second'], empty: '' }
    : { bin: Buffer.from([0, 1, 2, 254, 255]), 'ünïcode-kéy': 'välue-✓' }
  return { key, value, headers, partition: seq % partitions, timestamp: String(baseTs + seq) }
}

// Headers as KafkaJS puts them on the wire: object keys in order, arrays expanded.
function headerList(headers) {
  if (!headers) return []
  return Object.keys(headers).flatMap(name =>
    [].concat(headers[name]).map(value => [name, b64(value === null ? null
      : Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8'))]))
}

async function produce(opts) {
  const kafka = client(opts)
  const admin = kafka.admin()
  await admin.connect()
  const spec = { topic: opts.topic, numPartitions: opts.partitions, replicationFactor: 1 }
  const created = await admin.createTopics({ topics: [spec], waitForLeaders: true })
  const createdAgain = await admin.createTopics({ topics: [spec], waitForLeaders: true })
  const topics = await admin.listTopics()
  const metadata = await admin.fetchTopicMetadata({ topics: [opts.topic] })

  const baseTs = Date.now() - 3600 * 1000
  const records = []
  let seq = 0
  for (const codec of opts.codecs) {
    if (!(codec in CODECS)) throw new Error(`unknown codec ${codec}`)
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false,
      maxInFlightRequests: 1 })
    await producer.connect()
    for (let sent = 0; sent < opts.perCodec; sent += SEND_CHUNK) {
      const messages = []
      for (let i = sent; i < Math.min(opts.perCodec, sent + SEND_CHUNK); i++) {
        messages.push(makeRecord(seq++, opts.partitions, baseTs))
      }
      // One send is one Produce request; each partition's records get consecutive offsets
      // from that partition's baseOffset, in the order they are listed.
      const result = await producer.send({ topic: opts.topic, acks: -1,
        compression: CODECS[codec], messages })
      const next = {}
      for (const r of result) {
        if (r.errorCode !== 0) throw new Error(`produce error ${JSON.stringify(r)}`)
        next[r.partition] = BigInt(r.baseOffset)
      }
      for (const m of messages) {
        if (next[m.partition] === undefined) throw new Error(`no result for ${m.partition}`)
        records.push({ p: m.partition, o: String(next[m.partition]++), k: b64(m.key),
          v: b64(m.value), h: headerList(m.headers), ts: m.timestamp, codec })
      }
    }
    await producer.disconnect()
  }
  const offsets = await admin.fetchTopicOffsets(opts.topic)
  await admin.disconnect()
  return { created, createdAgain, topics, metadata, offsets, records }
}

async function consume(opts) {
  const kafka = client(opts)
  const consumer = kafka.consumer({ groupId: opts.groupId, maxWaitTimeInMs: 200,
    retry: { retries: 2 } })
  const records = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: true })
    await new Promise((resolve, reject) => {
      consumer.on(consumer.events.CRASH, event => reject(event.payload.error))
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          records.push({ p: partition, o: message.offset, k: b64(message.key),
            v: b64(message.value), h: headerList(message.headers), ts: message.timestamp })
          if (records.length >= opts.count) resolve()
        },
      }).catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return { records }
}

async function transaction(opts) {
  const kafka = client(opts)
  const producer = kafka.producer({ transactionalId: 'tx-1', idempotent: true, maxInFlightRequests: 1 })
  const started = Date.now()
  await producer.connect()
  try {
    const tx = await producer.transaction()
    await tx.send({ topic: opts.topic, messages: [{ value: 'x' }] })
    await tx.commit()
  } catch (e) {
    return { failedAfterMs: Date.now() - started, error: `${e.name}: ${e.message}` }
  } finally {
    await producer.disconnect()
  }
  throw new Error('a transaction was committed')
}

function finish(result, code) {
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(code))
}

async function main() {
  const [mode, json] = process.argv.slice(2)
  const opts = JSON.parse(json || '{}')
  const run = { produce, consume, transaction }[mode]
  if (!run) throw new Error(`usage: node roundtrip.js produce|consume '<json options>'`)
  const timeoutMs = opts.timeoutMs || 120000
  setTimeout(() => finish({ ok: false, error: `${mode} timed out after ${timeoutMs} ms` }, 1),
    timeoutMs)
  await registerCodecs()
  return run(opts)
}

main().then(
  result => finish({ ok: true, ...result }, 0),
  error => finish({ ok: false, error: String((error && error.stack) || error) }, 1))
