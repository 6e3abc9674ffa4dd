module.exports = {
  apps: [
    {
      name: "cjs-app",
      script: "./index.cjs",
      interpreter: "node",
      interpreter_args: ["--enable-source-maps"],
      instances: "max",
      exec_mode: "cluster",
      env: { NODE_ENV: "production" },
    },
  ],
};
