export default {
  apps: [{ name: "esm-app", script: "server.mjs", kill_timeout: 3000 }],
};
