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
function bytesOf(data, rest) {
  if (typeof data === 'string') return Buffer.from(data, typeof rest[1] === 'string' ? rest[1] : undefined);
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const options = rest[0] !== null && typeof rest[0] === 'object' ? rest[0] : { offset: rest[0], length: rest[1] };
  const offset = options.offset ?? 0;
  return view.subarray(offset, offset + (options.length ?? view.length - offset));
}

// The kernel's messages to Python (fd 3). One that starts with {"callback" asks Python to run its code in the
// middle of a request, and Python may send requests of its own before it answers: the preloading below stops for
// good at the first callback, so that no module is ever loaded while the kernel is inside a request.
const CALLBACK = Buffer.from('{"callback"');
let lineStart = true;
let calledBack = false;
let watchingForCallback = false; // only while preloading can still happen: nothing is added to other writes
function noteMessage(bytes) {
  if (bytes.length === 0) return;
  if (lineStart && bytes.subarray(0, CALLBACK.length).equals(CALLBACK)) calledBack = true;
  lineStart = bytes[bytes.length - 1] === 0x0a;
}

fs.writeSync = function (fd, data, ...rest) {
  if (fd === 3) {
    const written = writeSync.call(this, fd, data, ...rest);
    if (watchingForCallback && !calledBack) noteMessage(bytesOf(data, rest).subarray(0, written));
    return written;
  }
  if (fd !== 1 && fd !== 2) return writeSync.call(this, fd, data, ...rest);
  const bytes = bytesOf(data, rest);
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

// jsii's work directory: the kernel loads each package (aws-cdk-lib, cdk-nag...) from its node_modules, a new
// temporary directory each run. Two things need it: Node's compile cache and the preloading below.
//
// Node's compile cache for the modules the kernel loads is keyed by paths relative to a link inside that
// directory (Node's "portable" mode), the same every run. Only for the directory jsii creates for its modules:
// if jsii stops creating it this way, nothing is cached or preloaded.
// The "portable" option arrived in Node 24.12 (https://nodejs.org/api/module.html#moduleenablecompilecacheoptions):
// without it, keys would be the work directory's absolute paths, new each run, and the cache would only grow.
const cache = process.env.MLOPS_JSII_COMPILE_CACHE;
const mod = require('module');
const [major, minor] = process.versions.node.split('.').map(Number);
const portableCache = cache && typeof mod.enableCompileCache === 'function' && (major > 24 || (major === 24 && minor >= 12));
const preloadList = process.env.MLOPS_JSII_PRELOAD;
const mkdtempSync = fs.mkdtempSync;
let workDirFound = false;
fs.mkdtempSync = function (prefix, ...rest) {
  const dir = mkdtempSync.call(this, prefix, ...rest);
  if (!workDirFound && path.basename(prefix) === 'jsii-kernel-' && path.dirname(prefix) === os.tmpdir()) {
    workDirFound = true;
    if (portableCache) {
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
    if (preloadList) startPreloading(path.join(dir, 'node_modules'));
  }
  return dir;
};

// Preloading: while the kernel waits for Python's next request (Python importing aws-cdk-lib's Python
// bindings, or converting the arguments of its next call), it loads the modules the same program loaded in
// its previous run, so that requests later find them loaded. Python and Node each run on their own CPU:
// module loading moves from the time Python waits for Node to the time Node waits for Python. What was
// loaded is remembered at exit in MLOPS_JSII_PRELOAD (jsii_launcher.configure's ``preload``).
//
// A package's modules are loaded only once the kernel has loaded that package itself (its first module is in
// Node's module cache), only in the version remembered, and only when the kernel waits for a request, before
// its first callback (Python may send requests while it answers one: the kernel is then inside a request). A module that fails to load
// is left for the kernel, which loads it again when a request needs it and reports the error then.
function startPreloading(nodeModules) {
  let learned = {};
  try {
    learned = JSON.parse(fs.readFileSync(preloadList, 'utf8'));
  } catch {
    // nothing remembered yet (or unreadable): only learned this time
  }
  const queues = new Map(); // package -> {first, version, modules, next, checked}
  for (const relative of Array.isArray(learned.modules) ? learned.modules : []) {
    const pkg = packageOf(relative);
    if (!queues.has(pkg)) {
      const version = learned.packages && learned.packages[pkg];
      queues.set(pkg, { first: path.join(nodeModules, relative), version, modules: [], next: 0, checked: false });
    }
    queues.get(pkg).modules.push(relative);
  }

  function loadOne() {
    for (const [pkg, queue] of queues) {
      if (!(queue.first in require.cache)) continue; // the kernel has not loaded the package yet
      if (!queue.checked) {
        queue.checked = true;
        if (installedVersion(nodeModules, pkg) !== queue.version) queue.modules = [];
      }
      while (queue.next < queue.modules.length) {
        const file = path.join(nodeModules, queue.modules[queue.next++]);
        if (file in require.cache) continue;
        try {
          require(file);
        } catch {
          // left for the kernel
        }
        return true;
      }
      queues.delete(pkg);
    }
    return false;
  }

  let probe = null; // stdin again, non-blocking: is a request there?
  try {
    if (queues.size > 0 && fs.fstatSync(0).isFIFO()) {
      probe = fs.openSync(`/proc/self/fd/0`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    }
  } catch {
    probe = null; // no preloading
  }
  if (probe !== null) {
    watchingForCallback = true;
    const blockingRead = fs.readSync;
    fs.readSync = function (fd, ...rest) {
      if (fd === 3 && !calledBack && probe !== null) {
        for (;;) {
          try {
            return readSync.call(this, probe, ...rest);
          } catch (error) {
            if (error.code !== 'EAGAIN') throw error;
          }
          if (!loadOne()) {
            if (queues.size === 0) {
              fs.closeSync(probe);
              probe = null;
            }
            break;
          }
        }
      }
      return blockingRead.call(this, fd, ...rest);
    };
  }

  process.on('exit', () => remember(nodeModules));
}

function installedVersion(nodeModules, pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(nodeModules, pkg, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

// What this run loaded from jsii's packages, in the order it loaded them, with each package's version.
// Written whole under another name, then renamed, and only when it changed.
function remember(nodeModules) {
  const prefix = nodeModules + path.sep;
  const modules = Object.keys(require.cache).filter((file) => file.startsWith(prefix)).map((file) => file.slice(prefix.length));
  const packages = {};
  for (const relative of modules) {
    const pkg = packageOf(relative);
    if (!(pkg in packages)) packages[pkg] = installedVersion(nodeModules, pkg);
  }
  const text = JSON.stringify({ packages, modules });
  try {
    if (fs.readFileSync(preloadList, 'utf8') === text) return;
  } catch {
    // not written yet
  }
  const partial = `${preloadList}.${process.pid}`;
  try {
    fs.writeFileSync(partial, text, { mode: 0o600 });
    fs.renameSync(partial, preloadList);
  } catch {
    try {
      fs.unlinkSync(partial);
    } catch {
      // nothing written
    }
  }
}

function packageOf(relative) {
  const parts = relative.split(path.sep);
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

require(program);
