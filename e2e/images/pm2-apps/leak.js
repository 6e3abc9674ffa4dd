// A PM2-style HTTP server with a memory leak on demand: GET /leak?mb=N makes it hold N more
// MiB (allocated in 2 MiB steps, 10 steps a second), as a leaking app's memory grows until
// PM2's max_memory_restart restarts it. It says ready with process.send('ready') and stops
// gracefully on SIGINT.
//
// Environment: PORT (default 3000), VERSION (returned in every response and the X-Version
// header).
'use strict';

const http = require('http');

const port = Number(process.env.PORT || 3000);
const version = process.env.VERSION || 'dev';
const STEP_BYTES = 2 * 1024 * 1024;

const held = [];
let stopping = false;

function leak(mb) {
  let left = Math.ceil((mb * 1024 * 1024) / STEP_BYTES);
  const timer = setInterval(() => {
    // Filled, so every page is resident.
    held.push(Buffer.alloc(STEP_BYTES, 1));
    if (--left <= 0) clearInterval(timer);
  }, 100);
}

const server = http.createServer((req, res) => {
  res.setHeader('X-Version', version);
  res.setHeader('Content-Type', 'text/plain');
  if (stopping) res.setHeader('Connection', 'close');
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/leak') {
    const mb = Number(url.searchParams.get('mb') || 32);
    leak(mb);
    console.log(`leaking ${mb} MiB`);
    res.end(`leaking ${mb} MiB\n`);
    return;
  }
  res.end(`${version}\n`);
});

process.on('SIGINT', () => {
  if (stopping) return;
  stopping = true;
  console.log(`SIGINT: closing the server (holding ${held.length * 2} MiB)`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});

server.listen(port, () => {
  console.log(`listening on ${port} (version ${version})`);
  process.send('ready');
});
