// A PM2-style app that starts a child process, to show who gets the stop signal. It prints
// what it sees; the tests read it from the container's log.
//
// The child is kept stopped (SIGSTOP) while the app runs: a signal sent to a stopped process
// stays pending, so when the main process gets SIGINT it can tell whether its child was
// signalled before it (PM2's treekill: the tree, deepest first) or not at all (treekill
// off). It then resumes the child, which handles its pending SIGINT, if any, and exits.
//
// Lines: `child PID got SIGINT`, `main PID got SIGINT; child SIGINT pending: BOOL`,
// `main: child exited` or `main: child still running`.
'use strict';

const { fork } = require('child_process');
const fs = require('fs');

const SIGINT_MASK = 1n << 1n; // bit (signal number - 1) of the /proc pending masks

if (process.argv[2] === 'child') {
  process.on('SIGINT', () => {
    console.log(`child ${process.pid} got SIGINT`);
    process.exit(0);
  });
  setInterval(() => {}, 1 << 30);
  process.send('up');
} else {
  const child = fork(__filename, ['child']);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  child.once('message', () => {
    child.kill('SIGSTOP');
    console.log(`main ${process.pid} ready; child ${child.pid} stopped`);
    process.send('ready');
  });

  process.on('SIGINT', () => {
    console.log(`main ${process.pid} got SIGINT; child SIGINT pending: ${sigintPending(child.pid)}`);
    child.kill('SIGCONT');
    const deadline = Date.now() + 1500;
    const wait = setInterval(() => {
      if (!exited && Date.now() < deadline) return;
      clearInterval(wait);
      console.log(exited ? 'main: child exited' : 'main: child still running');
      process.exit(0);
    }, 50);
  });
}

// Whether SIGINT is pending for `pid`, process-wide or for its main thread.
function sigintPending(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return ['ShdPnd', 'SigPnd'].some((field) => {
    const mask = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    return mask !== null && (BigInt(`0x${mask[1]}`) & SIGINT_MASK) !== 0n;
  });
}
