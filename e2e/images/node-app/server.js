// A PM2-style application: an HTTP server that tells its process manager it is ready with
// process.send('ready') and stops gracefully on SIGINT or on the IPC message 'shutdown'
// (PM2's shutdown_with_message). Like any PM2 app it assumes an IPC channel exists: run
// without one (no PM2, no readyroll-shim), process.send is undefined and the app crashes.
//
// Environment: PORT (default 3000), VERSION (returned in every response and the
// X-Version header), READY_DELAY_MS (time between listening and reporting ready).
'use strict';

const http = require('http');

const port = Number(process.env.PORT || 3000);
const version = process.env.VERSION || 'dev';
const readyDelayMs = Number(process.env.READY_DELAY_MS || 0);

const server = http.createServer((req, res) => {
  res.setHeader('X-Version', version);
  res.setHeader('Content-Type', 'text/plain');
  if (stopping) res.setHeader('Connection', 'close');
  res.end(`${version}\n`);
});

let stopping = false;
function stop(reason) {
  if (stopping) return;
  stopping = true;
  console.log(`stopping (${reason})`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}

process.on('SIGINT', () => stop('SIGINT'));
process.on('message', (message) => {
  if (message === 'shutdown') stop("IPC message 'shutdown'");
});

server.listen(port, () => {
  console.log(`listening on ${port} (version ${version})`);
  setTimeout(() => {
    process.send('ready');
    console.log('sent ready');
  }, readyDelayMs);
});
