// Containerfile parsing: continuations, comments, forms of RUN/CMD, KEY=VALUE lists, variable
// substitution, and errors that name the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandForm, keyValues, parseContainerfile, splitWords, substitute } from '../../../engine/containers/containerfile.ts';

test('instructions, continuations and comments', () => {
  const parsed = parseContainerfile('# comment\nARG V=1\nfrom busybox\nRUN echo a \\\n  # inner comment\n  && echo b\n\nCMD ["sh"]\n');
  assert.deepEqual(parsed.map((i) => [i.keyword, i.args, i.line]), [
    ['ARG', 'V=1', 2], ['FROM', 'busybox', 3], ['RUN', 'echo a   && echo b', 4], ['CMD', '["sh"]', 8],
  ]);
});

test('errors name the file and line', () => {
  assert.throws(() => parseContainerfile('FROM x\nVOLUME /data\n', 'CF'), /^ContainerfileError: CF:2: unknown or unsupported instruction "VOLUME"/);
  assert.throws(() => parseContainerfile('RUN true\n', 'CF'), /CF: no FROM instruction/);
  assert.throws(() => parseContainerfile('ENV A=1\nFROM x\n', 'CF'), /CF:1: the first instruction \(after ARGs\) must be FROM/);
});

test('exec and shell forms', () => {
  assert.deepEqual(commandForm('["/bin/echo", "hi there"]'), ['/bin/echo', 'hi there']);
  assert.deepEqual(commandForm('echo $HOME'), ['/bin/sh', '-c', 'echo $HOME']);
  assert.deepEqual(commandForm('[not json'), ['/bin/sh', '-c', '[not json']);
});

test('KEY=VALUE lists with quotes, and ENV\'s legacy form', () => {
  assert.deepEqual(keyValues('a=1 b="two words" c=\'x y\'', false), [['a', '1'], ['b', 'two words'], ['c', 'x y']]);
  assert.deepEqual(keyValues('NAME some value', true), [['NAME', 'some value']]);
  assert.throws(() => keyValues('novalue', false), /expected KEY=VALUE/);
  assert.deepEqual(splitWords('a\\ b "c d" e'), ['a b', 'c d', 'e']);
  assert.throws(() => splitWords('"open'), /unterminated/);
});

test('variable substitution', () => {
  const vars = { A: 'x', EMPTY: '' };
  assert.equal(substitute('$A ${A} ${B:-def} ${A:+alt} ${EMPTY:-d2} \\$A', vars), 'x x def alt d2 $A');
});
