// Argument schemas (what they accept, and errors that name the field) and the WebSocket
// transport's encoding (bytes survive as bytes, Node Buffers included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { array, boolean, bytes, integer, number, object, oneOf, optional, string, ValidationError } from '../../../engine/api/schema.ts';
import { decode, encode, parseCall } from '../../../engine/api/wire.ts';

const spec = object({
  name: string({ min: 1, max: 8 }),
  size: optional(integer({ min: 1, max: 10 })),
  ratio: optional(number({ min: 0 })),
  on: optional(boolean()),
  mode: optional(oneOf(['a', 'b'] as const)),
  tags: optional(array(string({ pattern: /^[a-z]+$/, patternHint: 'lower-case letters' }), { max: 2 })),
  data: optional(bytes(4)),
});

test('a valid record passes, with undefined optional fields left out', () => {
  assert.deepEqual(spec.check({ name: 'x', size: 3, tags: ['ab'], on: undefined }, 'c'), { name: 'x', size: 3, tags: ['ab'] });
  assert.deepEqual(spec.check({ name: 'x', data: new Uint8Array([1, 2]) }, 'c'), { name: 'x', data: new Uint8Array([1, 2]) });
});

test('each kind of bad value is refused with its path and what was expected', () => {
  const cases: [unknown, string][] = [
    [{ name: '' }, 'c.name: must not be empty'],
    [{ name: 'too-long-name' }, 'c.name: must be at most 8 characters'],
    [{ name: 'x', size: 2.5 }, 'c.size: expected a whole number, got number'],
    [{ name: 'x', size: 11 }, 'c.size: must be at most 10'],
    [{ name: 'x', ratio: Number.NaN }, 'c.ratio: expected a number, got number'],
    [{ name: 'x', on: 'yes' }, 'c.on: expected true or false, got string'],
    [{ name: 'x', mode: 'c' }, 'c.mode: expected one of a, b, got string'],
    [{ name: 'x', tags: ['ok', 'NO'] }, 'c.tags[1]: "NO" is not lower-case letters'],
    [{ name: 'x', tags: ['a', 'b', 'c'] }, 'c.tags: more than 2 entries'],
    [{ name: 'x', data: new Uint8Array(5) }, 'c.data: more than 4 bytes'],
    [{ name: 'x', data: [1] }, 'c.data: expected bytes, got an array'],
    [{ name: 'x', extra: 1 }, 'c: unknown field "extra"'],
    [null, 'c: expected an object, got null'],
    [[], 'c: expected an object, got an array'],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => spec.check(value, 'c'), (err: unknown) => err instanceof ValidationError && err.message === message, message);
  }
});

test('bytes cross the wire as bytes, whether Uint8Array or Buffer', () => {
  const data = new Uint8Array(70000).map((_, i) => i * 7);
  const text = encode({ type: 'event', event: { type: 'terminal:data', terminal: 't', data: Buffer.from(data) } });
  const back = decode(text) as { event: { data: Uint8Array } };
  assert.ok(back.event.data instanceof Uint8Array);
  assert.deepEqual([...back.event.data], [...data]);
  assert.deepEqual(decode(encode({ type: 'call', id: 1, channel: 'x:y', args: { list: [1, 'two'], empty: new Uint8Array() } })),
    { type: 'call', id: 1, channel: 'x:y', args: { list: [1, 'two'], empty: new Uint8Array() } });
});

test('parseCall accepts only call messages', () => {
  assert.deepEqual(parseCall('{"type":"call","id":3,"channel":"app:info","args":{}}'), { type: 'call', id: 3, channel: 'app:info', args: {} });
  for (const text of ['not json', '{"type":"result","id":1}', '{"type":"call","id":"1","channel":"a:b"}', '{"type":"call","id":1.5,"channel":"a:b"}', '{"type":"call","id":1}', 'null', '{"type":"call","id":1,"channel":"a:b","args":{"$bytes":"%%%"}}']) {
    assert.equal(parseCall(text), undefined, text);
  }
});
