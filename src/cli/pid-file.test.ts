import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectPidFile, pidFilePath, processStartTime, removePidFile, runningServerPid, writePidFile } from './pid-file.ts';

const linux = existsSync('/proc/self/stat');

describe('pid file', () => {
  let dir: string;
  let sleeper: ChildProcess;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-pid-'));
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  });
  after(() => {
    sleeper.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (text: string): void => writeFileSync(pidFilePath(dir), text);

  test('no file: nothing runs', () => {
    rmSync(pidFilePath(dir), { force: true });
    assert.deepEqual(inspectPidFile(dir), { kind: 'absent' });
  });

  test('the file this process wrote names it as running', () => {
    writePidFile(dir);
    assert.equal(runningServerPid(dir), process.pid);
    const lines = readFileSync(pidFilePath(dir), 'utf8').split('\n');
    assert.equal(lines[0], String(process.pid));
    if (linux) assert.match(lines[1]!, /^start_time=\d+$/);
  });

  test('removePidFile leaves a file that names another process', () => {
    write(`${sleeper.pid}\n`);
    removePidFile(dir);
    assert.ok(existsSync(pidFilePath(dir)));
    writePidFile(dir);
    removePidFile(dir);
    assert.ok(!existsSync(pidFilePath(dir)));
  });

  test('a pid no process has is stale', async () => {
    const gone = spawn('true', { stdio: 'ignore' });
    await new Promise((resolve) => gone.once('exit', resolve));
    write(`${gone.pid}\nstart_time=1\n`);
    const state = inspectPidFile(dir);
    assert.equal(state.kind, 'stale');
    assert.equal(runningServerPid(dir), undefined);
  });

  test('garbage is stale', () => {
    for (const text of ['', '\n', 'abc\n', '-1\n', '0\n', '1.5\n']) {
      write(text);
      assert.equal(inspectPidFile(dir).kind, 'stale', JSON.stringify(text));
    }
  });

  test('a live pid whose start time differs from the recorded one is stale (the pid was reused)', { skip: !linux && 'needs /proc' }, () => {
    write(`${sleeper.pid}\nstart_time=1\n`);
    const state = inspectPidFile(dir);
    assert.equal(state.kind, 'stale');
    assert.match(state.kind === 'stale' ? state.reason : '', /started later/);
  });

  test('a live pid with the recorded start time is running', { skip: !linux && 'needs /proc' }, () => {
    write(`${sleeper.pid}\nstart_time=${processStartTime(sleeper.pid!)}\n`);
    assert.deepEqual(inspectPidFile(dir), { kind: 'running', pid: sleeper.pid });
  });

  test('without a recorded start time, a live process that is not Trellis is stale', { skip: !linux && 'needs /proc' }, () => {
    write(`${sleeper.pid}\n`);
    const state = inspectPidFile(dir);
    assert.equal(state.kind, 'stale');
    assert.match(state.kind === 'stale' ? state.reason : '', /is not a Trellis server \(sleep 60\)/);
  });
});
