// Attack scripts shared by the tests of forged git objects (forge-sweep, git-kept-kill, forge-loose,
// candidate-forged-loose).

/**
 * `node forge.js <objects dir> <blob id> <content>`: plants a pack whose index maps that blob id to a
 * blob with other content (git reads packs before loose objects, and never checks an object's hash when
 * it reads one).
 */
export const PACK_FORGER = `const fs = require('fs'), path = require('path'), zlib = require('zlib'), crypto = require('crypto');
const [objects, oid, content] = process.argv.slice(2);
const body = Buffer.from(content);
const entry = Buffer.concat([Buffer.from([(3 << 4) | body.length]), zlib.deflateSync(body)]);
const head = Buffer.alloc(12); head.write('PACK'); head.writeUInt32BE(2, 4); head.writeUInt32BE(1, 8);
const sum = crypto.createHash('sha1').update(Buffer.concat([head, entry])).digest();
const id = Buffer.from(oid, 'hex');
const fan = Buffer.alloc(1024); for (let i = 0; i < 256; i++) fan.writeUInt32BE(i >= id[0] ? 1 : 0, i * 4);
const off = Buffer.alloc(4); off.writeUInt32BE(12);
const idx = Buffer.concat([Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]), fan, id, Buffer.alloc(4), off, sum]);
const name = path.join(objects, 'pack', 'pack-' + sum.toString('hex'));
fs.mkdirSync(path.dirname(name), { recursive: true });
fs.writeFileSync(name + '.pack', Buffer.concat([head, entry, sum]));
fs.writeFileSync(name + '.idx', Buffer.concat([idx, crypto.createHash('sha1').update(idx).digest()]));
`;

/** `node forge.js <objects dir> <id>`: the loose object named id rewritten in place as the blob "1000\n". */
export const LOOSE_FORGER = `const fs = require('node:fs'), zlib = require('node:zlib'), path = require('node:path');
const [objects, id] = process.argv.slice(2);
const file = path.join(objects, id.slice(0, 2), id.slice(2));
fs.chmodSync(file, 0o644);
fs.writeFileSync(file, zlib.deflateSync(Buffer.from('blob 5\\0' + '1000\\n')));
fs.chmodSync(file, 0o444);
`;
