const base = { exec_mode: "cluster", instances: 2, kill_timeout: 4000 };
const names = ["alpha", "beta", "gamma"];
module.exports = {
  apps: names.map((name) => ({ ...base, name, script: `services/${name}.js` })),
};
