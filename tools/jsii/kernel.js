// jsii's kernel (lib/program.js of the installed jsii Python package, unchanged) run as the process jsii's
// Python runtime starts, instead of behind jsii's launcher (bin/jsii-runtime.js), which starts it as a second
// Node process and relays every request and response between the two. See jsii_launcher.py for why and when.
//
// The launcher gave the kernel its API channel on file descriptor 3, and wrapped everything the kernel's code
// printed as {"stdout": <base64>} / {"stderr": <base64>} lines on its own stderr, which jsii's Python runtime
// decodes. Here: requests arrive on stdin (fd 0), responses go to fd 3 (launch.sh points it at stdout), fds 1
// and 2 both go to stderr, and what the kernel prints is wrapped as the launcher wrapped it.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Buffer } = require('buffer');

const program = process.env.MLOPS_JSII_PROGRAM;
if (!program) {
  throw new Error('MLOPS_JSII_PROGRAM is not set: start this through jsii_launcher.py');
}

const readSync = fs.readSync;
const writeSync = fs.writeSync;

// The kernel reads its requests from fd 3 (jsii's SyncStdio); they arrive on stdin.
fs.readSync = function (fd, ...rest) {
  return readSync.call(this, fd === 3 ? 0 : fd, ...rest);
};

// The whole line or nothing lost: stderr is a pipe, which Node may have made non-blocking, so a write can be
// partial or refused (EAGAIN) while jsii's reader is behind; jsii's own SyncStdio retries the same way.
const pause = new Int32Array(new SharedArrayBuffer(4));
function writeAll(fd, buffer) {
  for (let offset = 0; offset < buffer.length;) {
    try {
      offset += writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

function emit(key, bytes) {
  writeAll(2, Buffer.from(`${JSON.stringify({ [key]: Buffer.from(bytes).toString('base64') })}\n`));
}

// What the kernel's code prints, through the console or the streams...
for (const [key, stream] of [['stdout', process.stdout], ['stderr', process.stderr]]) {
  stream.write = function (chunk, encoding, callback) {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    emit(key, typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk);
    if (typeof callback === 'function') process.nextTick(callback);
    return true;
  };
}
// ...or written to fd 1 or 2 directly.
// Forms: (fd, string[, position[, encoding]]), (fd, buffer[, offset[, length[, position]]]), (fd, buffer, {offset, length}).
fs.writeSync = function (fd, data, ...rest) {
  if (fd !== 1 && fd !== 2) return writeSync.call(this, fd, data, ...rest);
  let bytes;
  if (typeof data === 'string') {
    bytes = Buffer.from(data, typeof rest[1] === 'string' ? rest[1] : undefined);
  } else {
    const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const options = rest[0] !== null && typeof rest[0] === 'object' ? rest[0] : { offset: rest[0], length: rest[1] };
    const offset = options.offset ?? 0;
    bytes = view.subarray(offset, offset + (options.length ?? view.length - offset));
  }
  emit(fd === 1 ? 'stdout' : 'stderr', bytes);
  return bytes.length;
};

// An exception nothing catches is reported through the same wrapping before the kernel exits (Node would write
// it to fd 2 itself, past the wrappers above). Fatal errors Node reports from C++ (running out of heap) still
// arrive unwrapped: jsii's Python runtime prints such lines as they are.
process.on('uncaughtException', (error) => {
  emit('stderr', Buffer.from(`${(error && error.stack) || String(error)}\n`));
  process.exit(1);
});

// Node's compile cache for the modules the kernel loads (aws-cdk-lib's, cdk-nag's): they are loaded from the
// kernel's work directory, a new temporary directory each run, so the cache is keyed by paths relative to a
// link inside that directory (Node's "portable" mode), the same every run. Only for the directory jsii creates
// for its modules: if jsii stops creating it this way, nothing is cached.
// The "portable" option arrived in Node 24.12 (https://nodejs.org/api/module.html#moduleenablecompilecacheoptions):
// without it, keys would be the work directory's absolute paths, new each run, and the cache would only grow.
const cache = process.env.MLOPS_JSII_COMPILE_CACHE;
const mod = require('module');
const [major, minor] = process.versions.node.split('.').map(Number);
if (cache && typeof mod.enableCompileCache === 'function' && (major > 24 || (major === 24 && minor >= 12))) {
  const mkdtempSync = fs.mkdtempSync;
  let done = false;
  fs.mkdtempSync = function (prefix, ...rest) {
    const dir = mkdtempSync.call(this, prefix, ...rest);
    if (!done && path.basename(prefix) === 'jsii-kernel-' && path.dirname(prefix) === os.tmpdir()) {
      done = true;
      try {
        fs.mkdirSync(cache, { recursive: true, mode: 0o700 });
        fs.symlinkSync(cache, path.join(dir, '.compile-cache'));
        mod.enableCompileCache({ directory: path.join(dir, '.compile-cache'), portable: true });
        // Written at exit, before jsii removes its work directory (and the link in it).
        process.on('exit', () => mod.flushCompileCache());
      } catch {
        // no cache: only slower
      }
    }
    return dir;
  };
}

require(program);
