'use strict';
const path = require('path');

module.exports = {
  apps: [
    {
      name: 'gateway',
      script: path.join('dist', 'gateway.js'),
      instances: 'max',
      exec_mode: 'cluster',
      wait_ready: true,
      listen_timeout: 15000,
      kill_timeout: 8000,
      shutdown_with_message: false,
      max_memory_restart: '800M',
      node_args: '--max-old-space-size=700',
      env: { NODE_ENV: 'development', PORT: 4000 },
      env_production: { NODE_ENV: 'production' },
      port: 4000,
      interpreter: undefined,
    },
    {
      name: 'scheduler',
      script: 'dist/scheduler.js',
      instances: 1,
      cron_restart: '0 */6 * * *',
      env: { TZ: 'UTC' },
    },
  ],
};
