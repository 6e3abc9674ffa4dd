// What `pm2 init simple` writes.
module.exports = {
  apps : [{
    name   : "app1",
    script : "./app.js"
  }]
}
