// kafkajs 2.2.4 against a Strata broker: admin topic creation, an idempotent producer with gzip,
// a consumer group reading everything back and committing, and the group's offsets through the
// admin API. Usage: node smoke.js HOST:PORT
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

async function main() {
  const kafka = new Kafka({ clientId: 'strata-smoke', brokers: [process.argv[2]], logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 2 }] });
  const meta = await admin.fetchTopicMetadata({ topics: ['kjs'] });
  if (meta.topics[0].partitions.length !== 2) throw new Error('expected 2 partitions');

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const count = 1000;
  for (let b = 0; b < 10; b++) {
    const messages = [];
    for (let i = b * 100; i < (b + 1) * 100; i++) messages.push({ key: `k${i % 2}`, value: `v${i}`, partition: i % 2 });
    await producer.send({ topic: 'kjs', compression: CompressionTypes.GZIP, messages });
  }
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets('kjs');
  const total = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (total !== count) throw new Error(`expected ${count} records, offsets say ${total}`);

  const consumer = kafka.consumer({ groupId: 'kjs-group', sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'kjs', fromBeginning: true });
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`group consumer saw ${seen.size}`)), 30000);
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.add(`${partition}:${message.offset}`);
        if (seen.size === count) { clearTimeout(timer); resolve(); }
      },
    }).catch(reject);
  });
  await consumer.disconnect();  // commits what it consumed and leaves the group
  const committed = await admin.fetchOffsets({ groupId: 'kjs-group', topics: ['kjs'] });
  const sum = committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0);
  if (sum !== count) throw new Error(`committed offsets add up to ${sum}, not ${count}`);
  const groups = await admin.describeGroups(['kjs-group']);
  if (groups.groups[0].state !== 'Empty') throw new Error(`group state ${groups.groups[0].state}`);
  await admin.disconnect();
  console.log('kafkajs ok');
}

main().catch((e) => { console.error('FAIL', e); process.exit(1); });
